package main

import (
	"flag"
)

// globalFlags are accepted by every command, with environment equivalents.
type globalFlags struct {
	data   string // --data, DISCRET_DATA
	key    string // --key, DISCRET_KEY
	config string // --config, DISCRET_CONFIG
	// acceptConfig is --accept-config-change: record privacy settings
	// looser than those recorded in the data directory (checkSettings).
	acceptConfig bool
}

// Defaults of the global flags.
const (
	defaultDataDir = "./discret-data"
	defaultKeyFile = "./discret.key"
)

func (g *globalFlags) defaults(getenv func(string) string) {
	g.data = firstNonEmpty(getenv("DISCRET_DATA"), defaultDataDir)
	g.key = firstNonEmpty(getenv("DISCRET_KEY"), defaultKeyFile)
	g.config = getenv("DISCRET_CONFIG")
}

func (g *globalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.data, "data", g.data, "data directory `DIR` (env DISCRET_DATA); only the commands that write data create one")
	fs.StringVar(&g.key, "key", g.key, "master key file `FILE`, mode 0600 (env DISCRET_KEY)")
	fs.StringVar(&g.config, "config", g.config, "configuration file `FILE`, JSON (env DISCRET_CONFIG)")
	fs.BoolVar(&g.acceptConfig, "accept-config-change", g.acceptConfig, "record privacy settings of --config looser than those recorded in the data directory (a longer retention period, a consent default that grants, non-private runs allowed), or, given no --config, the defaults in place of other recorded ones; without it the command stops")
}

func isGlobalFlag(name string) bool {
	return name == "data" || name == "key" || name == "config" || name == "accept-config-change"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
