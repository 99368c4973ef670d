"""Services over the database shared by the API and the CLI: users, agents and groups."""
