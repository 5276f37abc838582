"""The commands of the CLI (convert, live/record, summary) and what they share (:mod:`.common`)."""
