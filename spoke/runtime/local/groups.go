package local

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
)

// groups records the process group of each step's command while it runs,
// so that a restarted spoke can stop what a run left running (Reap): one
// append-only file for the runtime, a line when a command starts and one
// when it ends. A file per step (created, then removed) cost a short step
// more of the spoke's time than anything else it did. The file is
// rewritten with the groups still running once it holds many more lines
// than that.
type groups struct {
	path string

	mu    sync.Mutex
	f     *os.File       // nil until first used
	live  map[string]int // step -> process group, as the file says
	lines int            // lines in the file
}

// groupsFile is the file's name in the runtime's directory.
const groupsFile = "process-groups"

// started records that the step's command runs as process group pgid.
func (g *groups) started(step string, pgid int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.append(step, pgid); err != nil {
		return err
	}
	g.live[step] = pgid
	return nil
}

// ended records that the step's command ended (or was stopped).
func (g *groups) ended(step string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.live[step]; !ok {
		return
	}
	if g.append(step, 0) == nil {
		delete(g.live, step)
	}
	if g.lines > 2*len(g.live)+1024 {
		_ = g.compact() // the appends go on; the next end tries again
	}
}

// group returns the process group the file says the step's command runs
// as, read from the file a previous process of the spoke left.
func (g *groups) group(step string) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.open(); err != nil {
		return 0, false
	}
	pgid, ok := g.live[step]
	return pgid, ok
}

// append writes one line: the process group (0: ended) and the step.
func (g *groups) append(step string, pgid int) error {
	if err := g.open(); err != nil {
		return err
	}
	if _, err := g.f.WriteString(strconv.Itoa(pgid) + " " + strconv.Quote(step) + "\n"); err != nil {
		return err
	}
	g.lines++
	return nil
}

// open reads the file a previous process left, if any, and opens it for
// appending. Lines that do not parse (a line cut short by a crash) are
// skipped.
func (g *groups) open() error {
	if g.f != nil {
		return nil
	}
	g.live, g.lines = map[string]int{}, 0
	if f, err := os.Open(g.path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			g.lines++
			pgid, quoted, ok := strings.Cut(sc.Text(), " ")
			n, err := strconv.Atoi(pgid)
			step, qerr := strconv.Unquote(quoted)
			if !ok || err != nil || qerr != nil {
				continue
			}
			if n > 0 {
				g.live[step] = n
			} else {
				delete(g.live, step)
			}
		}
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(g.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record process groups: %w", err)
	}
	g.f = f
	return nil
}

// compact rewrites the file with the groups still running.
func (g *groups) compact() error {
	var b strings.Builder
	for step, pgid := range g.live {
		b.WriteString(strconv.Itoa(pgid) + " " + strconv.Quote(step) + "\n")
	}
	tmp := g.path + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, g.path); err != nil {
		return err
	}
	f, err := os.OpenFile(g.path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	g.f.Close()
	g.f, g.lines = f, len(g.live)
	return nil
}
