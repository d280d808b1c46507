"""Content sources: Markdown files under content/ and RSS/Atom feeds, both yielding Items."""
