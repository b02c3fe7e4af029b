package resource

import (
	"context"
	"encoding/json"
	"errors"
	"io"
)

// Git will run the git CLI natively; it is not built yet.
type Git struct{}

var errGit = errors.New("the git resource is not built yet on the local runtime (walking-skeleton issue, item 4)")

func (Git) Check(context.Context, json.RawMessage, map[string]string, io.Writer) ([]map[string]string, error) {
	return nil, errGit
}

func (Git) In(context.Context, json.RawMessage, json.RawMessage, map[string]string, string, io.Writer) (Response, error) {
	return Response{}, errGit
}

func (Git) Out(context.Context, json.RawMessage, json.RawMessage, string, io.Writer) (Response, error) {
	return Response{}, errGit
}
