"""Storage: database, migrations, file store, drafts and mail outbox."""
