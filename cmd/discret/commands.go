package main

// commands returns every subcommand, in the order `discret help` lists them.
func commands() []*command {
	return []*command{
		serveCommand(),
		demoCommand(),
		keygenCommand(),
		genCommand(),
		importCommand(),
		itemsCommand(),
		couponsCommand(),
		consentCommand(),
		exportCommand(),
		forgetCommand(),
		auditCommand(),
		compactCommand(),
		backupCommand(),
		restoreCommand(),
		trainCommand(),
		modelsCommand(),
		privacyCommand(),
		evalCommand(),
		apikeyCommand(),
		benchCommand(),
		versionCommand(),
	}
}
