package resource

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// gitCLI runs the git CLI for one source: with its SSH key, if it has one,
// and its git_config.
type gitCLI struct {
	env    []string // added to the environment
	config []string // -c name=value pairs before the command
}

func (c gitCLI) run(ctx context.Context, dir string, log io.Writer, args ...string) (string, error) {
	full := append(append([]string{}, c.config...), args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0"), c.env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if log != nil && stderr.Len() > 0 {
		_, _ = log.Write(stderr.Bytes())
	}
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// git runs the git CLI without a source's key or config.
func git(ctx context.Context, dir string, log io.Writer, args ...string) (string, error) {
	return gitCLI{}.run(ctx, dir, log, args...)
}

// gitConfigAllowed are the git_config keys a source may set: git runs in the
// spoke's process, so keys that run a command (core.sshCommand,
// core.fsmonitor, filters, aliases), read the spoke's files
// (http.cookieFile, include) or send git elsewhere (url.*.insteadOf) are not.
var gitConfigAllowed = map[string]bool{
	"user.name": true, "user.email": true, "core.autocrlf": true, "core.compression": true, "core.bigfilethreshold": true,
	"http.sslverify": true, "http.postbuffer": true, "http.lowspeedlimit": true, "http.lowspeedtime": true, "http.version": true,
	"pack.threads": true, "pack.windowmemory": true, "transfer.fsckobjects": true, "fetch.fsckobjects": true, "gc.auto": true,
	"init.defaultbranch": true, "advice.detachedhead": true,
}

type gitConfigEntry struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// cli is how git reaches the source: its private key written to a file of
// a directory that done removes, and its git_config.
func (s gitSource) cli() (c gitCLI, done func(), err error) {
	done = func() {}
	for i, e := range s.GitConfig {
		if !gitConfigAllowed[strings.ToLower(e.Name)] {
			return c, done, fmt.Errorf("source.git_config[%d]: %q is not allowed: git runs in the spoke's process, where a key can run a command or read the spoke's files; allowed: user.name, user.email, core.autocrlf, core.compression, http.sslVerify, http.postBuffer, http.lowSpeedLimit, http.lowSpeedTime, http.version, pack.threads, transfer.fsckObjects, init.defaultBranch and a few more", i, e.Name)
		}
		if strings.ContainsAny(e.Value, "\n\x00") {
			return c, done, fmt.Errorf("source.git_config[%d]: the value of %s holds a newline or NUL", i, e.Name)
		}
		c.config = append(c.config, "-c", e.Name+"="+e.Value)
	}
	// ssh never uses the spoke's own keys, agent, config or known hosts: only
	// the source's key.
	const sshCommand = "ssh -F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
	if s.PrivateKey == "" {
		if s.PrivateKeyUser != "" || s.PrivateKeyPassphrase != "" {
			return c, done, errors.New("source.private_key_user and private_key_passphrase need source.private_key")
		}
		c.env = append(c.env, "GIT_SSH_COMMAND="+sshCommand+" -o IdentityFile=none", "GIT_SSH_VARIANT=ssh")
		return c, done, nil
	}
	var key any
	if s.PrivateKeyPassphrase != "" {
		key, err = ssh.ParseRawPrivateKeyWithPassphrase([]byte(s.PrivateKey), []byte(s.PrivateKeyPassphrase))
	} else {
		key, err = ssh.ParseRawPrivateKey([]byte(s.PrivateKey))
	}
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return c, done, errors.New("source.private_key is encrypted: give source.private_key_passphrase")
	}
	if err != nil {
		return c, done, fmt.Errorf("source.private_key: %v", err) // the key itself is never echoed
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return c, done, fmt.Errorf("source.private_key: %v", err)
	}
	dir, err := os.MkdirTemp("", "switchyard-git-key-")
	if err != nil {
		return c, done, err
	}
	done = func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		done()
		return c, func() {}, err
	}
	command := sshCommand + " -i " + file
	if s.PrivateKeyUser != "" {
		if !gitUserName.MatchString(s.PrivateKeyUser) {
			done()
			return c, func() {}, fmt.Errorf("source.private_key_user %q: use letters, digits, '.', '_' and '-'", s.PrivateKeyUser)
		}
		command += " -l " + s.PrivateKeyUser
	}
	c.env = append(c.env, "GIT_SSH_COMMAND="+command, "GIT_SSH_VARIANT=ssh")
	return c, done, nil
}
