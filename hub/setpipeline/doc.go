// Package setpipeline is what fly set-pipeline and a set_pipeline step share
// to save a pipeline: the rows the store keeps of a loaded config, and the
// admission questions the policies in force answer first.
package setpipeline
