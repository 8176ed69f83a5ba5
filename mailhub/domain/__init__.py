"""The use cases that mail, web and CLI share: the directory of tenants, people and spaces,
preferences, forms, editing, sign-in, action links, moderation and the inbound log, reading
content back, and search. Plain values and a session in; values or domain errors out."""
