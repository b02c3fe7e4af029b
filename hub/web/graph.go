package web

import (
	"cmp"
	"fmt"
	"slices"
)

// The pipeline graph, laid out in Go and sent as SVG: jobs and resources
// are nodes in columns (ranks) from left to right; a resource a job gets
// without passed constraints is an edge from the resource to the job, a
// passed constraint an edge from the upstream job, a put an edge from the
// job to the resource. Edges of gets that do not trigger are dashed.

// GraphJob is a job as the graph shows it.
type GraphJob struct {
	Name    string
	URL     string
	Status  string // the finished build's status, "paused" or "no-builds"
	Running bool   // a build is pending or started
	Inputs  []GraphInput
	Outputs []string // resources it puts
}

// GraphInput is one get of a job.
type GraphInput struct {
	Resource string
	Passed   []string
	Trigger  bool
}

// GraphResource is a resource as the graph shows it.
type GraphResource struct {
	Name   string
	URL    string
	Status string // its last check's: "succeeded", "errored", or ""
	Pinned bool
}

// Graph is the laid-out graph.
type Graph struct {
	Width, Height int
	Nodes         []Node
	Edges         []Edge
}

// Node is one box of the graph.
type Node struct {
	ID, Kind, Label, URL, Class string // Kind: job or resource
	X, Y, W, H                  int
	Running                     bool
}

// Edge is one arrow: From and To are node IDs.
type Edge struct {
	From, To string
	Path     string // the SVG path
	Dashed   bool   // a get that does not trigger
	Resource string // what flows along it
}

// Layout sizes.
const (
	nodeW, nodeH = 180, 32
	colGap       = 60
	rowGap       = 16
	margin       = 10
)

// Layout lays out the jobs and resources.
func Layout(jobs []GraphJob, resources []GraphResource) Graph {
	type node struct {
		Node
		rank  int
		order float64
	}
	nodes := map[string]*node{}
	var ids []string
	add := func(id string, n Node) {
		if _, ok := nodes[id]; ok {
			return
		}
		n.ID = id
		nodes[id] = &node{Node: n}
		ids = append(ids, id)
	}
	byResource := map[string]GraphResource{}
	for _, r := range resources {
		byResource[r.Name] = r
	}
	resourceNode := func(name string) string {
		id := "resource-" + name
		r := byResource[name]
		class := "resource " + r.Status
		if r.Pinned {
			class += " pinned"
		}
		add(id, Node{Kind: "resource", Label: name, URL: r.URL, Class: class})
		return id
	}
	jobIDs := map[string]bool{}
	for _, j := range jobs {
		class := "job " + cmp.Or(j.Status, "no-builds")
		if j.Running {
			class += " running"
		}
		add("job-"+j.Name, Node{Kind: "job", Label: j.Name, URL: j.URL, Class: class, Running: j.Running})
		jobIDs[j.Name] = true
	}
	var edges []Edge
	seen := map[string]bool{}
	edge := func(e Edge) {
		k := e.From + ">" + e.To + ">" + e.Resource
		if !seen[k] && e.From != e.To {
			seen[k] = true
			edges = append(edges, e)
		}
	}
	for _, j := range jobs {
		to := "job-" + j.Name
		for _, in := range j.Inputs {
			var upstream []string
			for _, p := range in.Passed {
				if jobIDs[p] {
					upstream = append(upstream, p)
				}
			}
			if len(upstream) == 0 {
				edge(Edge{From: resourceNode(in.Resource), To: to, Dashed: !in.Trigger, Resource: in.Resource})
				continue
			}
			for _, p := range upstream {
				edge(Edge{From: "job-" + p, To: to, Dashed: !in.Trigger, Resource: in.Resource})
			}
		}
		for _, out := range j.Outputs {
			edge(Edge{From: to, To: resourceNode(out), Resource: out})
		}
	}
	// Ranks: the longest path from a node without in-edges, cycles cut
	// where the walk meets a node it is on.
	preds := map[string][]string{}
	for _, e := range edges {
		preds[e.To] = append(preds[e.To], e.From)
	}
	state := map[string]int{} // 1: on the walk, 2: done
	var rank func(id string) int
	rank = func(id string) int {
		switch state[id] {
		case 1:
			return -1
		case 2:
			return nodes[id].rank
		}
		state[id] = 1
		r := 0
		for _, p := range preds[id] {
			r = max(r, rank(p)+1)
		}
		nodes[id].rank, state[id] = r, 2
		return r
	}
	for _, id := range ids {
		rank(id)
	}
	// A node nothing feeds (a resource) moves right, to just before the
	// first node it feeds, as Concourse's graph does.
	succs := map[string][]string{}
	for _, e := range edges {
		succs[e.From] = append(succs[e.From], e.To)
	}
	for _, id := range ids {
		if len(preds[id]) > 0 || len(succs[id]) == 0 {
			continue
		}
		first := -1
		for _, to := range succs[id] {
			if r := nodes[to].rank; first < 0 || r < first {
				first = r
			}
		}
		nodes[id].rank = max(nodes[id].rank, first-1)
	}
	columns := map[int][]*node{}
	maxRank := 0
	for _, id := range ids {
		r := nodes[id].rank
		columns[r] = append(columns[r], nodes[id])
		maxRank = max(maxRank, r)
	}
	// Rows: each column in the order of its nodes' predecessors' rows
	// (the barycentre), then by name.
	g := Graph{}
	for r := 0; r <= maxRank; r++ {
		col := columns[r]
		for _, n := range col {
			sum, count := 0.0, 0
			for _, p := range preds[n.ID] {
				if pn := nodes[p]; pn.rank < r {
					sum += pn.order
					count++
				}
			}
			n.order = float64(len(col))
			if count > 0 {
				n.order = sum / float64(count)
			}
		}
		slices.SortStableFunc(col, func(a, b *node) int {
			return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Label, b.Label))
		})
		for i, n := range col {
			n.order = float64(i)
			n.X, n.Y, n.W, n.H = margin+r*(nodeW+colGap), margin+i*(nodeH+rowGap), nodeW, nodeH
			g.Width = max(g.Width, n.X+n.W+margin)
			g.Height = max(g.Height, n.Y+n.H+margin)
		}
	}
	for _, id := range ids {
		g.Nodes = append(g.Nodes, nodes[id].Node)
	}
	for _, e := range edges {
		a, b := nodes[e.From], nodes[e.To]
		x1, y1, x2, y2 := a.X+a.W, a.Y+a.H/2, b.X, b.Y+b.H/2
		if b.rank <= a.rank { // a cut cycle: go round below
			e.Path = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+colGap, y1+nodeH*2, x2-colGap, y2+nodeH*2, x2, y2)
		} else {
			mid := (x1 + x2) / 2
			e.Path = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2)
		}
		g.Edges = append(g.Edges, e)
	}
	return g
}
