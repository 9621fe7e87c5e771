#if Postgres
    import EventStorage
    import NIOCore
    import NostrCore
    import PostgresNIO

    /// `StorageTransaction`'s primitives for one batch: what the batch's authors have stored is
    /// read in a few queries up front (the authors are locked, so it stays true), the batch's own
    /// changes are kept here, and `flush` writes them in a few statements.
    final class PostgresWriteTransaction: StorageTransaction {
        struct AddressKey: Hashable {
            let pubkey: Bytes32
            let kind: UInt16
            let d: String
            init(_ address: Address) {
                pubkey = address.pubkey
                kind = address.kind
                d = TagKey.address(address.d)
            }
            /// `d`: already a key.
            init(pubkey: Bytes32, kind: UInt16, d: String) {
                self.pubkey = pubkey
                self.kind = kind
                self.d = d
            }
        }
        struct Tombstone: Hashable {
            let id: Bytes32
            let pubkey: Bytes32
        }

        let connection: PGConnection
        /// Stored events read so far (nil: read, and not stored).
        private var stored: [Bytes32: Event?] = [:]
        /// The version stored at an address, as read (nil: none).
        private var versions: [AddressKey: Event?] = [:]
        private var tombstones: Set<Tombstone> = []
        private var checkedTombstones: Set<Bytes32> = []
        private var deletedUpTo: [AddressKey: Int64?] = [:]
        private var vanishedUpTo: [Bytes32: Int64?] = [:]
        /// The batch's changes.
        private var inserts: [Bytes32: Write] = [:]
        private var insertOrder: [Bytes32] = []
        private var removals: Set<Bytes32> = []
        private var newTombstones: [Tombstone] = []
        private var newDeletedUpTo: [AddressKey: Int64] = [:]
        private var newVanishedUpTo: [Bytes32: Int64] = [:]
        private(set) var countChange = 0

        /// `opening`: statements sent ahead of the prefetch in the same round trip (`BEGIN` and
        /// the author locks), which the server runs first.
        init(connection: PGConnection, writes: [Write], opening: [(String, PostgresBindings)] = []) throws {
            self.connection = connection
            try prefetch(writes, opening: opening)
        }

        func isPending(_ id: Bytes32) -> Bool { inserts[id] != nil }

        /// Reads, for the batch: which of its ids are stored, their tombstones, its authors'
        /// vanish times, and the versions and deletions at its addresses, in one round trip.
        private func prefetch(_ writes: [Write], opening: [(String, PostgresBindings)]) throws {
            var ids: [ByteBuffer] = []
            var authors: Set<Bytes32> = []
            var targets: [ByteBuffer] = []
            var addresses: Set<AddressKey> = []
            for write in writes {
                ids.append(write.event.id.buffer)
                authors.insert(write.event.pubkey)
                checkedTombstones.insert(write.event.id)
                stored[write.event.id] = .some(nil)
                if case .replace(let address) = write.action { addresses.insert(AddressKey(address)) }
                if case .delete = write.action {
                    for tag in write.event.tags where tag.count >= 2 {
                        if tag.singleLetterName == UInt8(ascii: "e"), let id = tag.withField(1, { Bytes32(hex: $0) }) {
                            targets.append(id.buffer)
                            stored[id] = .some(nil)
                        } else if tag.singleLetterName == UInt8(ascii: "a"), let address = Address(tagValue: tag[1]) {
                            addresses.insert(AddressKey(address))
                        }
                    }
                }
            }
            var storedBinds = PostgresBindings()
            storedBinds.append(ids + targets)
            var tombstoned = PostgresBindings()
            tombstoned.append(ids)
            var vanish = PostgresBindings()
            vanish.append(authors.map(\.buffer))
            for author in authors { vanishedUpTo[author] = .some(nil) }
            var statements = opening
            let first = statements.count
            statements += [
                ("SELECT json FROM events WHERE id = ANY($1::bytea[])", storedBinds),
                ("SELECT id, pubkey FROM tombstones WHERE id = ANY($1::bytea[])", tombstoned),
                ("SELECT pubkey, up_to FROM vanished WHERE pubkey = ANY($1::bytea[])", vanish),
            ]
            let list = Array(addresses)
            if !list.isEmpty {
                for key in list {
                    versions[key] = .some(nil)
                    deletedUpTo[key] = .some(nil)
                }
                var binds = PostgresBindings()
                binds.append(list.map(\.pubkey.buffer))
                binds.append(list.map { Int32($0.kind) })
                binds.append(list.map(\.d))
                statements += [
                    (
                        """
                        SELECT e.json FROM events e
                        JOIN unnest($1::bytea[], $2::int4[], $3::text[]) AS a(pubkey, kind, address)
                        ON e.pubkey = a.pubkey AND e.kind = a.kind AND e.address = a.address
                        """, binds
                    ),
                    (
                        """
                        SELECT d.pubkey, d.kind, d.address, d.up_to FROM address_deletions d
                        JOIN unnest($1::bytea[], $2::int4[], $3::text[]) AS a(pubkey, kind, address)
                        ON d.pubkey = a.pubkey AND d.kind = a.kind AND d.address = a.address
                        """, binds
                    ),
                ]
            }
            let results = try connection.queries(statements)
            for row in results[first] {
                if let event = Event.decode(json: try row.decode(ByteBuffer.self).bytes) { stored[event.id] = event }
            }
            for row in results[first + 1] {
                let (id, pubkey) = try row.decode((ByteBuffer, ByteBuffer).self)
                if let id = Bytes32(id), let pubkey = Bytes32(pubkey) {
                    tombstones.insert(Tombstone(id: id, pubkey: pubkey))
                }
            }
            for row in results[first + 2] {
                let (pubkey, upTo) = try row.decode((ByteBuffer, Int64).self)
                if let pubkey = Bytes32(pubkey) { vanishedUpTo[pubkey] = upTo }
            }
            guard !list.isEmpty else { return }
            for row in results[first + 3] {
                guard let event = Event.decode(json: try row.decode(ByteBuffer.self).bytes) else { continue }
                stored[event.id] = event
                versions[AddressKey(Address(of: event))] = event
            }
            for row in results[first + 4] {
                let (pubkey, kind, address, upTo) = try row.decode((ByteBuffer, Int32, String, Int64).self)
                guard let pubkey = Bytes32(pubkey) else { continue }
                deletedUpTo[AddressKey(pubkey: pubkey, kind: UInt16(kind), d: address)] = upTo
            }
        }

        /// The events a statement's `json` column holds.
        private func events(_ sql: String, _ binds: PostgresBindings) throws -> [Event] {
            try connection.query(sql, binds).compactMap { Event.decode(json: try $0.decode(ByteBuffer.self).bytes) }
        }

        /// `$1, $2, $3`: an address's pubkey, kind and `d` key.
        private static func binds(_ key: AddressKey) -> PostgresBindings {
            var binds = PostgresBindings()
            binds.append(key.pubkey.buffer)
            binds.append(Int32(key.kind))
            binds.append(key.d)
            return binds
        }

        // MARK: StorageTransaction

        func contains(id: Bytes32) throws -> Bool { try event(id: id) != nil }

        func event(id: Bytes32) throws -> Event? {
            if let write = inserts[id] { return write.event }
            if removals.contains(id) { return nil }
            if let known = stored[id] { return known }
            var binds = PostgresBindings()
            binds.append(id.buffer)
            let event = try events("SELECT json FROM events WHERE id = $1", binds).first
            stored[id] = event
            return event
        }

        func current(_ address: Address) throws -> Event? {
            let key = AddressKey(address)
            if let known = versions[key] { return known }
            let event = try events(
                "SELECT json FROM events WHERE pubkey = $1 AND kind = $2 AND address = $3", Self.binds(key)
            ).first
            versions[key] = event
            return event
        }

        func insert(_ write: Write) throws {
            let id = write.event.id
            inserts[id] = write
            insertOrder.append(id)
            countChange += 1
            if case .replace(let address) = write.action { versions[AddressKey(address)] = write.event }
        }

        func remove(_ event: Event) throws {
            countChange -= 1
            if inserts.removeValue(forKey: event.id) == nil { removals.insert(event.id) }
            switch event.kindClass {
            case .replaceable, .addressable:
                let key = AddressKey(Address(of: event))
                if case .some(.some(let version)) = versions[key], version.id == event.id { versions[key] = .some(nil) }
            case .regular, .ephemeral:
                break
            }
        }

        func isTombstoned(id: Bytes32, by pubkey: Bytes32) throws -> Bool {
            if tombstones.contains(Tombstone(id: id, pubkey: pubkey)) { return true }
            guard !checkedTombstones.contains(id) else { return false }
            var binds = PostgresBindings()
            binds.append(id.buffer)
            binds.append(pubkey.buffer)
            return try !connection.query("SELECT 1 FROM tombstones WHERE id = $1 AND pubkey = $2", binds).isEmpty
        }

        func addTombstone(id: Bytes32, by pubkey: Bytes32) throws {
            if tombstones.insert(Tombstone(id: id, pubkey: pubkey)).inserted {
                newTombstones.append(Tombstone(id: id, pubkey: pubkey))
            }
        }

        func deletedUpTo(_ address: Address) throws -> Int64? {
            let key = AddressKey(address)
            if let known = deletedUpTo[key] { return known }
            let upTo = try connection.query(
                "SELECT up_to FROM address_deletions WHERE pubkey = $1 AND kind = $2 AND address = $3", Self.binds(key)
            ).first.map { try $0.decode(Int64.self) }
            deletedUpTo[key] = upTo
            return upTo
        }

        func setDeletedUpTo(_ address: Address, _ createdAt: Int64) throws {
            let key = AddressKey(address)
            deletedUpTo[key] = createdAt
            newDeletedUpTo[key] = createdAt
        }

        func vanishedUpTo(_ pubkey: Bytes32) throws -> Int64? {
            if let known = vanishedUpTo[pubkey] { return known }
            var binds = PostgresBindings()
            binds.append(pubkey.buffer)
            let upTo = try connection.query("SELECT up_to FROM vanished WHERE pubkey = $1", binds).first.map {
                try $0.decode(Int64.self)
            }
            vanishedUpTo[pubkey] = upTo
            return upTo
        }

        func setVanishedUpTo(_ pubkey: Bytes32, _ createdAt: Int64) throws {
            vanishedUpTo[pubkey] = createdAt
            newVanishedUpTo[pubkey] = createdAt
        }

        func events(by author: Bytes32, upTo: Int64) throws -> [Event] {
            var binds = PostgresBindings()
            binds.append(author.buffer)
            binds.append(upTo)
            var found = try events("SELECT json FROM events WHERE pubkey = $1 AND created_at <= $2", binds).filter {
                !removals.contains($0.id)
            }
            for id in insertOrder {
                if let write = inserts[id], write.event.pubkey == author, write.event.createdAt <= upTo {
                    found.append(write.event)
                }
            }
            return found
        }

        func giftWraps(to pubkey: Bytes32) throws -> [Event] {
            var binds = PostgresBindings()
            binds.append(TagKey.key(UInt8(ascii: "p"), pubkey.hex))
            var found = try events(
                "SELECT e.json FROM tags t JOIN events e ON e.id = t.id WHERE t.tag = $1 AND e.kind = 1059", binds
            ).filter { !removals.contains($0.id) }
            let wrapTo = Filter(
                kinds: [Kinds.giftWrap], tags: [Filter.TagCondition(name: UInt8(ascii: "p"), values: [pubkey.hex])])
            for id in insertOrder {
                if let write = inserts[id], wrapTo.matches(write.event) { found.append(write.event) }
            }
            return found
        }

        // MARK: writing

        /// The statements that write the batch's changes: removals first (their tags go with
        /// them), then the new events and their tags, tombstones, deletions and vanish times.
        /// They need no answer before the next, so the caller sends them together with what
        /// follows them in the transaction.
        func flushStatements() -> [(String, PostgresBindings)] {
            var statements: [(String, PostgresBindings)] = []
            if !removals.isEmpty {
                var binds = PostgresBindings()
                binds.append(removals.map(\.buffer))
                statements.append(("DELETE FROM events WHERE id = ANY($1::bytea[])", binds))
            }
            let writes = insertOrder.compactMap { inserts[$0] }
            if !writes.isEmpty { insertEvents(writes, into: &statements) }
            if !newTombstones.isEmpty {
                var binds = PostgresBindings()
                binds.append(newTombstones.map(\.id.buffer))
                binds.append(newTombstones.map(\.pubkey.buffer))
                statements.append(
                    (
                        "INSERT INTO tombstones SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT DO NOTHING",
                        binds
                    ))
            }
            if !newDeletedUpTo.isEmpty {
                let list = Array(newDeletedUpTo)
                var binds = PostgresBindings()
                binds.append(list.map(\.key.pubkey.buffer))
                binds.append(list.map { Int32($0.key.kind) })
                binds.append(list.map(\.key.d))
                binds.append(list.map(\.value))
                statements.append(
                    (
                        """
                        INSERT INTO address_deletions SELECT * FROM unnest($1::bytea[], $2::int4[], $3::text[], $4::int8[])
                        ON CONFLICT (pubkey, kind, address) DO UPDATE SET up_to = greatest(address_deletions.up_to, excluded.up_to)
                        """, binds
                    ))
            }
            if !newVanishedUpTo.isEmpty {
                let list = Array(newVanishedUpTo)
                var binds = PostgresBindings()
                binds.append(list.map(\.key.buffer))
                binds.append(list.map(\.value))
                statements.append(
                    (
                        """
                        INSERT INTO vanished SELECT * FROM unnest($1::bytea[], $2::int8[])
                        ON CONFLICT (pubkey) DO UPDATE SET up_to = greatest(vanished.up_to, excluded.up_to)
                        """, binds
                    ))
            }
            return statements
        }

        /// Sentinels for the NULLs an array cannot carry.
        static let noExpiration = Int64.min

        private func insertEvents(_ writes: [Write], into statements: inout [(String, PostgresBindings)]) {
            var ids: [ByteBuffer] = []
            var pubkeys: [ByteBuffer] = []
            var times: [Int64] = []
            var kinds: [Int32] = []
            var expirations: [Int64] = []
            var addresses: [String] = []
            var words: [String] = []
            var jsons: [ByteBuffer] = []
            var tagKeys: [String] = []
            var tagTimes: [Int64] = []
            var tagIDs: [ByteBuffer] = []
            for write in writes {
                let event = write.event
                let id = event.id.buffer
                ids.append(id)
                pubkeys.append(event.pubkey.buffer)
                times.append(event.createdAt)
                kinds.append(Int32(event.kind))
                expirations.append(event.expiration ?? Self.noExpiration)
                if case .replace(let address) = write.action {
                    addresses.append(TagKey.address(address.d))
                } else {
                    addresses.append("")
                }
                words.append(Self.words(of: event))
                jsons.append(ByteBuffer(bytes: write.json))
                var seen: Set<String> = []
                event.forEachIndexedTag { name, value in
                    let key = TagKey.key(name, value)
                    if seen.insert(key).inserted {
                        tagKeys.append(key)
                        tagTimes.append(event.createdAt)
                        tagIDs.append(id)
                    }
                }
            }
            var binds = PostgresBindings()
            binds.append(ids)
            binds.append(pubkeys)
            binds.append(times)
            binds.append(kinds)
            binds.append(expirations)
            binds.append(addresses)
            binds.append(words)
            binds.append(jsons)
            statements.append(
                (
                    """
                    INSERT INTO events (id, pubkey, created_at, kind, expiration, address, words, json)
                    SELECT id, pubkey, created_at, kind, nullif(expiration, \(Self.noExpiration)), nullif(address, ''),
                        CASE WHEN words = '' THEN NULL ELSE string_to_array(words, E'\\x01') END, json
                    FROM unnest($1::bytea[], $2::bytea[], $3::int8[], $4::int4[], $5::int8[], $6::text[], $7::text[],
                        $8::bytea[]) AS u(id, pubkey, created_at, kind, expiration, address, words, json)
                    """, binds
                ))
            guard !tagKeys.isEmpty else { return }
            binds = PostgresBindings()
            binds.append(tagKeys)
            binds.append(tagTimes)
            binds.append(tagIDs)
            statements.append(("INSERT INTO tags SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[])", binds))
        }

        /// NIP-50: the words LMDB's index would hold for the event, joined by U+0001 ("" for none).
        static func words(of event: Event) -> String {
            guard !event.content.isEmpty && !SearchText.unindexedKinds.contains(event.kind) else { return "" }
            var out: [UInt8] = []
            var seen: Set<[UInt8]> = []
            SearchText.forEachTokenBytes(event.content) { token in
                let word = Array(token)
                if seen.insert(word).inserted {
                    if !out.isEmpty { out.append(1) }
                    out.append(contentsOf: word)
                }
                return seen.count < SearchText.indexedWordsPerEvent
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
#endif
