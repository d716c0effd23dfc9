package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/meshmq/meshmq/asyncapi"
	"github.com/meshmq/meshmq/examples/internal/cli"
)

const apiUsage = `Usage: meshctl api [flags]

Prints the AsyncAPI 3.0 document of the cluster once gossip has settled:
a server per member, a channel per service and topic pattern, each member's
operations (what it handles, subscribes to, and declares it emits), the
message types with their JSON Schemas, and meshmq's guarantees as x-meshmq
extensions (package asyncapi). meshctl itself is left out of it.

Examples:

  meshctl api -join 127.0.0.1:7946                        # YAML to standard output
  meshctl api -join 127.0.0.1:7946 -format json -o asyncapi.json
  meshctl api -join 127.0.0.1:7946 -title orders -version 1.4.0 -expect 3
` + commonUsage + `
Flags:
`

func apiFlags() (*cli.Flags, func(context.Context, *env, []string) error) {
	fs := cli.NewFlagSet("api", apiUsage)
	var c common
	format := fs.String("format", "yaml", "output format: yaml or json")
	out := fs.String("o", "", "write the document to `FILE` instead of standard output")
	var info asyncapi.Info
	fs.StringVar(&info.Title, "title", "", "the document's title (default: the cluster's name, or \"meshmq cluster\")")
	fs.StringVar(&info.Version, "version", "", "the document's version (default: asyncapi's)")
	fs.StringVar(&info.Description, "description", "", "the document's description")
	c.register(fs)
	return fs, func(ctx context.Context, e *env, pos []string) error {
		if len(pos) > 0 {
			return fs.Fail("api takes no argument (got %q)", pos[0])
		}
		*format = strings.ToLower(*format)
		if *format != "yaml" && *format != "json" {
			return fs.Fail("-format %q: want yaml or json", *format)
		}
		if err := c.check(fs, true, false); err != nil {
			return err
		}
		if info.Title == "" {
			info.Title = "meshmq cluster"
			if c.cluster != "" {
				info.Title = c.cluster
			}
		}
		s, err := c.start(ctx, e, nil)
		if err != nil {
			return err
		}
		err = s.await(ctx, nil, true)
		var doc []byte
		if err == nil {
			// The members, not meshctl: asyncapi.ForCluster would list
			// meshctl's own (empty) peer as a server.
			d, derr := asyncapi.ForMembers(info, s.p.Members()...)
			switch {
			case derr != nil:
				err = derr
			case *format == "json":
				doc, err = d.JSON()
			default:
				doc, err = d.YAML()
			}
			if err == nil && *out != "" {
				err = os.WriteFile(*out, doc, 0o644)
				if err == nil {
					fmt.Fprintf(e.stderr, "meshctl: wrote %s: %d channels, %d operations, %d servers\n", *out, len(d.Channels), len(d.Operations), len(d.Servers))
				}
			} else if err == nil {
				_, err = e.stdout.Write(doc)
			}
		}
		return s.finish(err)
	}
}
