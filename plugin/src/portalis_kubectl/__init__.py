"""`kubectl portalis`: the application team's view of TranslationJobs (docs/kubectl-plugin.md)."""
