#if Postgres
    import Foundation
    /// The tables of a PostgreSQL store, in its own schema, and their migrations. The version is
    /// kept in `meta`; a store of a newer version than this build knows is refused.
    enum Schema {
        /// The version this build writes.
        static let version = 1

        /// Each step takes the schema from version `i` to `i + 1` (index 0 creates it).
        static let migrations: [String] = [
            """
            CREATE TABLE events (
                id bytea PRIMARY KEY,
                pubkey bytea NOT NULL,
                created_at bigint NOT NULL,
                kind integer NOT NULL,
                -- NIP-40; NULL when the event does not expire.
                expiration bigint,
                -- The address of a replaceable ('') or addressable (its d tag) event, as a key
                -- (TagKey); NULL for other kinds.
                address text,
                -- NIP-50: the first 64 distinct words of the content; NULL when not searchable.
                words text[],
                json bytea NOT NULL
            );
            CREATE INDEX events_created ON events (created_at DESC, id);
            CREATE INDEX events_author ON events (pubkey, created_at DESC, id);
            CREATE INDEX events_kind ON events (kind, created_at DESC, id);
            CREATE INDEX events_author_kind ON events (pubkey, kind, created_at DESC, id);
            CREATE INDEX events_expiration ON events (expiration) WHERE expiration IS NOT NULL;
            CREATE INDEX events_words ON events USING gin (words) WHERE words IS NOT NULL;
            -- One version per address: the constraint behind NIP-01's replaceable rule.
            CREATE UNIQUE INDEX events_address ON events (pubkey, kind, address) WHERE address IS NOT NULL;

            -- Single-letter tags: 'x:value' (or 'x#sha256' for long values), with the event's time.
            CREATE TABLE tags (
                tag text NOT NULL,
                created_at bigint NOT NULL,
                id bytea NOT NULL REFERENCES events (id) ON DELETE CASCADE
            );
            CREATE INDEX tags_tag ON tags (tag, created_at DESC, id);
            CREATE INDEX tags_id ON tags (id);

            -- NIP-09: deleted ids, with the pubkey that asked.
            CREATE TABLE tombstones (id bytea NOT NULL, pubkey bytea NOT NULL, PRIMARY KEY (id, pubkey));
            -- NIP-09 a-tags: versions at an address up to created_at are deleted.
            CREATE TABLE address_deletions (
                pubkey bytea NOT NULL, kind integer NOT NULL, address text NOT NULL, up_to bigint NOT NULL,
                PRIMARY KEY (pubkey, kind, address)
            );
            -- NIP-62: the author's events up to created_at are deleted.
            CREATE TABLE vanished (pubkey bytea PRIMARY KEY, up_to bigint NOT NULL);
            CREATE TABLE settings (key text PRIMARY KEY, value bytea NOT NULL);
            -- The live feed every node follows: each commit's stored events (by id) and broadcast
            -- ephemeral events (their JSON), numbered in commit order under one lock.
            CREATE TABLE feed (
                seq bigint PRIMARY KEY,
                node bigint NOT NULL,
                id bytea,
                json bytea,
                at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
            INSERT INTO counters VALUES ('events', 0);
            """
        ]

        /// A migration's statements, one at a time (the extended protocol takes one per query);
        /// statements end with `;` at the end of a line.
        static func statements(_ script: String) -> [String] {
            script.components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                .map { $0.hasSuffix(";") ? String($0.dropLast()) : $0 }
                .filter { piece in
                    piece.split(separator: "\n").contains { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
                }
        }

        /// Lock numbers (`pg_advisory_xact_lock`): one for the schema's creation, one for the
        /// feed's numbering. Authors' locks are the first 8 bytes of their keys, so they may
        /// share a number with these rarely and harmlessly (a brief wait).
        static let migrationLock: Int64 = 0x7465_726e_0000_0001
        static let feedLock: Int64 = 0x7465_726e_0000_0002
    }
#endif
