// Command probe is the one program in the test images: a static binary that
// tells what it sees from inside an image.
//
//	probe id               uid, gid and working directory
//	probe cat FILE...      prints files
//	probe write FILE TEXT  writes a file
//	probe env NAME...      prints variables
//	probe exit N           exits with status N
//	probe caps             the bounding set of capabilities, in hex
//
// Copied to /opt/resource/check, in and out, it is a resource type (see
// resource.go).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if dir, name := filepath.Split(os.Args[0]); dir == "/opt/resource/" {
		os.Exit(resource(name))
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "probe: no command")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "id":
		wd, _ := os.Getwd()
		fmt.Printf("uid=%d gid=%d pid=%d dir=%s\n", os.Getuid(), os.Getgid(), os.Getpid(), wd)
	case "cat":
		for _, f := range args {
			data, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Stdout.Write(data)
		}
	case "write":
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "env":
		for _, n := range args {
			fmt.Printf("%s=%s\n", n, os.Getenv(n))
		}
	case "caps":
		data, _ := os.ReadFile("/proc/self/status")
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "CapBnd:") {
				fmt.Println(strings.TrimSpace(strings.TrimPrefix(line, "CapBnd:")))
			}
		}
	case "exit":
		n, _ := strconv.Atoi(args[0])
		os.Exit(n)
	default:
		fmt.Fprintln(os.Stderr, "probe: unknown command", os.Args[1])
		os.Exit(2)
	}
}
