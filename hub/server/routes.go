package server

import (
	"github.com/switchyard-ci/switchyard/hub/auth"
)

// routes is every route the hub serves, with the access it needs (Concourse's
// defaults: viewers read, pipeline-operators operate, members change, owners own).
func (s *Server) routes() []route {
	var (
		anyone       = access{kind: anonymous}
		user         = access{kind: authenticated}
		viewer       = access{kind: team, role: auth.Viewer}
		operator     = access{kind: team, role: auth.PipelineOperator}
		member       = access{kind: team, role: auth.Member}
		owner        = access{kind: team, role: auth.Owner}
		readPipeline = access{kind: pipelineRead}
		readBuild    = access{kind: buildRead}
		buildDetails = access{kind: buildDetail}
		operateBuild = access{kind: buildWrite, role: auth.PipelineOperator}
		webhook      = access{kind: webhookToken}
		admin        = access{kind: admin}
		// The web UI's pages: the same access, answered as pages.
		anyonePage   = access{kind: anonymous, page: true}
		userPage     = access{kind: authenticated, page: true}
		pipelinePage = access{kind: pipelineRead, page: true}
		buildPage    = access{kind: buildRead, page: true}
	)
	const (
		teamPath     = "/api/v1/teams/{team}"
		pipelinePath = teamPath + "/pipelines/{pipeline}"
		jobPath      = pipelinePath + "/jobs/{job}"
	)
	const uiPipeline = "/teams/{team}/pipelines/{pipeline}"
	return []route{
		{"GET", "/{$}", anyonePage, s.dashboardPage},
		{"GET", "/hd", anyonePage, s.hdPage},
		{"GET", uiPipeline, pipelinePage, s.pipelinePage},
		{"GET", uiPipeline + "/jobs/{job}", pipelinePage, s.jobPage},
		{"GET", uiPipeline + "/jobs/{job}/builds/{build_name}", pipelinePage, s.jobBuildPage},
		{"GET", uiPipeline + "/resources/{resource}", pipelinePage, s.resourcePage},
		{"GET", "/builds/{build}", buildPage, s.buildPage},
		{"GET", "/fleet", userPage, s.fleetPage},
		{"GET", "/api/v1/ui/changes", anyone, s.uiChanges},
		{"GET", "/healthz", anyone, s.healthz},
		{"GET", "/metrics", access{kind: scraper}, s.scrape},
		{"GET", "/api/v1/info", anyone, s.info},
		{"POST", "/sky/issuer/token", anyone, s.token},
		{"GET", "/sky/logout", anyone, s.logout},
		{"GET", "/login", anyone, s.loginForm},
		{"POST", "/sky/login", anyone, s.loginLocal},
		{"GET", "/sky/login/oidc", anyone, s.loginOIDC},
		{"GET", "/sky/issuer/callback", anyone, s.oidcCallback},
		{"GET", "/fly_success", anyone, s.flySuccess},
		{"GET", "/api/v1/user", user, s.user},
		{"GET", "/api/v1/users", admin, s.activeUsers},
		{"GET", "/api/v1/wall", anyone, s.getWall},
		{"PUT", "/api/v1/wall", admin, s.setWall},
		{"DELETE", "/api/v1/wall", admin, s.clearWall},
		{"GET", "/api/v1/cli", anyone, s.cli},

		{"GET", "/api/v1/teams", anyone, s.listTeams},
		{"GET", teamPath, viewer, s.getTeam},
		{"PUT", teamPath, owner, s.setTeam},
		{"PUT", teamPath + "/rename", owner, s.renameTeam},
		{"DELETE", teamPath, admin, s.destroyTeam},

		{"GET", "/api/v1/pipelines", anyone, s.listAllPipelines},
		{"GET", teamPath + "/pipelines", anyone, s.listTeamPipelines},
		{"PUT", teamPath + "/pipelines/ordering", member, s.orderPipelines},
		{"PUT", pipelinePath + "/ordering", member, s.orderInstancedPipelines},
		{"GET", pipelinePath, readPipeline, s.getPipeline},
		{"DELETE", pipelinePath, member, s.destroyPipeline},
		{"GET", pipelinePath + "/config", viewer, s.getConfig},
		{"PUT", pipelinePath + "/config", member, s.saveConfig},
		{"PUT", pipelinePath + "/pause", operator, s.pausePipeline(true)},
		{"PUT", pipelinePath + "/unpause", operator, s.pausePipeline(false)},
		{"PUT", pipelinePath + "/expose", member, s.exposePipeline(true)},
		{"PUT", pipelinePath + "/hide", member, s.exposePipeline(false)},
		{"PUT", pipelinePath + "/trust", owner, s.trustPipeline(true)},
		{"PUT", pipelinePath + "/untrust", owner, s.trustPipeline(false)},
		{"PUT", pipelinePath + "/archive", member, s.archivePipeline},
		{"PUT", pipelinePath + "/rename", member, s.renamePipeline},

		{"GET", pipelinePath + "/jobs", readPipeline, s.listJobs},
		{"GET", jobPath, readPipeline, s.getJob},
		{"PUT", jobPath + "/pause", operator, s.pauseJob(true)},
		{"PUT", jobPath + "/unpause", operator, s.pauseJob(false)},
		{"PUT", jobPath + "/schedule", operator, s.scheduleJob},
		{"PUT", jobPath + "/trust", owner, s.trustJob(true)},
		{"PUT", jobPath + "/untrust", owner, s.trustJob(false)},
		{"POST", jobPath + "/builds", operator, s.triggerJob},
		{"POST", jobPath + "/builds/{build_name}", operator, s.rerunBuild},
		{"GET", jobPath + "/inputs", viewer, s.jobInputs},
		{"GET", jobPath + "/builds", readPipeline, s.listJobBuilds},
		{"GET", jobPath + "/builds/{build_name}", readPipeline, s.getJobBuild},
		{"GET", pipelinePath + "/builds", readPipeline, s.listPipelineBuilds},
		{"GET", pipelinePath + "/versions-db", viewer, s.versionsDB},
		{"GET", pipelinePath + "/resources", readPipeline, s.listResources},
		{"GET", pipelinePath + "/resource-types", viewer, s.listResourceTypes},
		{"GET", pipelinePath + "/resources/{resource}", readPipeline, s.getResource},
		{"GET", pipelinePath + "/resources/{resource}/versions", readPipeline, s.listVersions},
		{"POST", pipelinePath + "/resources/{resource}/check", operator, s.checkResource},
		{"POST", pipelinePath + "/resource-types/{resource_type}/check", operator, s.checkResourceType},
		{"POST", pipelinePath + "/resources/{resource}/check/webhook", webhook, s.checkWebhook},
		{"PUT", pipelinePath + "/resources/{resource}/versions/{version}/pin", operator, s.changeResource(s.pinVersion)},
		{"GET", pipelinePath + "/resources/{resource}/versions/{version}/input_to", readPipeline, s.versionBuilds(false)},
		{"GET", pipelinePath + "/resources/{resource}/versions/{version}/output_of", readPipeline, s.versionBuilds(true)},
		{"PUT", pipelinePath + "/resources/{resource}/unpin", operator, s.changeResource(s.unpinResource)},
		{"PUT", pipelinePath + "/resources/{resource}/pin_comment", operator, s.changeResource(s.setPinComment)},
		{"PUT", pipelinePath + "/resources/{resource}/versions/{version}/enable", operator, s.changeResource(s.enableVersion(true))},
		{"PUT", pipelinePath + "/resources/{resource}/versions/{version}/disable", operator, s.changeResource(s.enableVersion(false))},
		{"GET", pipelinePath + "/resources/{resource}/shared", viewer, s.sharedVersions},
		{"GET", pipelinePath + "/resource-types/{resource_type}/shared", viewer, s.sharedTypeVersions},
		{"DELETE", pipelinePath + "/resources/{resource}/versions", admin, s.clearVersions},
		{"DELETE", pipelinePath + "/resources/{resource}/cache", operator, s.clearResourceCache},
		{"DELETE", jobPath + "/tasks/{step}/cache", operator, s.clearTaskCache},
		{"DELETE", pipelinePath + "/resource-types/{resource_type}/versions", admin, s.clearTypeVersions},

		{"GET", "/api/v1/builds", anyone, s.listAllBuilds},
		{"GET", teamPath + "/builds", viewer, s.listTeamBuilds},
		{"POST", teamPath + "/builds", member, s.createOneOffBuild},
		{"POST", pipelinePath + "/builds", member, s.createOneOffBuild},
		{"POST", teamPath + "/artifacts", member, s.uploadArtifact},
		{"GET", teamPath + "/artifacts/{id}", member, s.downloadArtifact},
		{"GET", "/api/v1/builds/{build}/artifacts", buildDetails, s.buildArtifacts},
		{"GET", teamPath + "/policies", viewer, s.listPolicies},
		{"PUT", teamPath + "/policies/{name}", owner, s.setPolicy},
		{"DELETE", teamPath + "/policies/{name}", owner, s.destroyPolicy},
		{"PUT", "/api/v1/policies/{name}", admin, s.setPolicy},
		{"DELETE", "/api/v1/policies/{name}", admin, s.destroyPolicy},
		{"GET", teamPath + "/containers", viewer, s.listContainers},
		{"GET", teamPath + "/containers/{handle}", viewer, s.getContainer},
		{"GET", teamPath + "/containers/{handle}/hijack", member, s.hijackContainer},
		{"GET", "/api/v1/builds/{build}", readBuild, s.getBuild},
		{"PUT", "/api/v1/builds/{build}/abort", operateBuild, s.abortBuild},
		{"PUT", "/api/v1/builds/{build}/comment", operateBuild, s.setBuildComment},
		{"GET", "/api/v1/builds/{build}/events", buildDetails, s.buildEvents},
		{"GET", "/api/v1/builds/{build}/log", buildDetails, s.buildLog},
		{"GET", "/api/v1/builds/{build}/preparation", buildDetails, s.buildPreparation},
		{"GET", "/api/v1/builds/{build}/resources", readBuild, s.buildResources},
		{"GET", "/api/v1/builds/{build}/plan", readBuild, s.buildPlan},
		{"GET", "/api/v1/builds/{build}/placement", buildDetails, s.buildPlacement},
		{"GET", "/api/v1/workers", user, s.listWorkers},
		{"PUT", "/api/v1/workers/{worker}/land", user, s.landWorker},
		{"PUT", "/api/v1/workers/{worker}/retire", user, s.retireWorker},
		{"PUT", "/api/v1/workers/{worker}/prune", user, s.pruneWorker},
		{"DELETE", "/api/v1/workers/{worker}/credential", user, s.revokeWorkerCredential},
		{"GET", "/api/v1/teams/{team}/join-tokens", owner, s.listJoinTokens},
		{"POST", "/api/v1/teams/{team}/join-tokens", owner, s.createJoinToken},
		{"PUT", "/api/v1/teams/{team}/join-tokens/{name}/rotate", owner, s.rotateJoinToken},
		{"DELETE", "/api/v1/teams/{team}/join-tokens/{name}", owner, s.revokeJoinToken},
		{"GET", "/api/v1/teams/{team}/fleet-quota", viewer, s.getTeamQuota},
		{"PUT", "/api/v1/teams/{team}/fleet-quota", admin, s.setTeamQuota},
		{"GET", "/api/v1/join-tokens", admin, s.listJoinTokens},
		{"POST", "/api/v1/join-tokens", admin, s.createJoinToken},
		{"PUT", "/api/v1/join-tokens/{name}/rotate", admin, s.rotateJoinToken},
		{"DELETE", "/api/v1/join-tokens/{name}", admin, s.revokeJoinToken},
	}
}

// RouteAccess lists every route of the user API as "METHOD PATH" with who
// may call it, for the API reference.
func RouteAccess() [][2]string {
	var out [][2]string
	for _, r := range (&Server{}).routes() {
		out = append(out, [2]string{r.method + " " + r.path, r.access.String()})
	}
	return out
}

// RouteTable lists every route of the user API as "METHOD PATH", for the
// isolation test, which must cover each.
func RouteTable() []string {
	var out []string
	for _, r := range RouteAccess() {
		out = append(out, r[0])
	}
	return out
}
