// compose-config loads a Compose file the way `docker compose config` does, with the Compose
// Specification's reference Go library (compose-go): the .env of the project folder for
// ${interpolation}, the schema, normalization, paths, the consistency checks (depends_on,
// volumes, networks) and the active profiles (COMPOSE_PROFILES). It prints the resolved project
// as JSON, or the loader's error and exit 1. No Docker engine is needed. Used by
// tests/test_compose_*.py; built by scripts/setup.sh --test.
//
// Usage: compose-config PROJECT_DIR [COMPOSE_FILE]
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-config PROJECT_DIR [COMPOSE_FILE]")
		os.Exit(2)
	}
	dir := os.Args[1]
	file := "docker-compose.yml"
	if len(os.Args) > 2 {
		file = os.Args[2]
	}
	options, err := cli.NewProjectOptions(
		[]string{filepath.Join(dir, file)},
		cli.WithWorkingDirectory(dir),
		cli.WithOsEnv,
		cli.WithEnvFiles(), // the project folder's .env, as docker compose reads it
		cli.WithDotEnv,
		// COMPOSE_PROFILES from the environment or .env, as docker compose reads it: services of
		// other profiles are left out (`docker compose --profile scale` = COMPOSE_PROFILES=scale).
		cli.WithDefaultProfiles(),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
