import EventStorage
import NostrCore

/// Byte layouts of the store's keys. Times are stored inverted and big-endian, so an ascending
/// cursor walk yields newest first; each index key ends with the event's 8-byte serial. Events
/// with equal created_at therefore come in insertion order, and the query engine re-sorts such
/// ties by id (NIP-01's order).
enum IndexKeys {
    @inline(__always)
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func append(_ value: UInt16, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func append(_ value: Bytes32, to out: inout [UInt8]) {
        append(value.w0, to: &out)
        append(value.w1, to: &out)
        append(value.w2, to: &out)
        append(value.w3, to: &out)
    }

    /// created_at inverted, so larger times sort first.
    @inline(__always)
    static func inverted(_ createdAt: Int64) -> UInt64 { UInt64.max - UInt64(max(0, createdAt)) }
    static func createdAt(inverted: UInt64) -> Int64 { Int64(bitPattern: UInt64.max - inverted) }

    static func serial(_ serial: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8)
        append(serial, to: &out)
        return out
    }

    /// The length of an index key's suffix: inverted created_at + serial.
    static let suffixLength = 16

    static func id(_ id: Bytes32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        append(id, to: &out)
        return out
    }

    /// The 16 bytes that stand for a tag value in index keys (see `appendValueKey`).
    static func valueKey(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        appendValueKey(value, to: &out)
        return out
    }

    static func authorPrefix(_ pubkey: Bytes32) -> [UInt8] { id(pubkey) }

    static func kindPrefix(_ kind: UInt16) -> [UInt8] {
        var out: [UInt8] = []
        append(kind, to: &out)
        return out
    }

    static func authorKindPrefix(_ pubkey: Bytes32, _ kind: UInt16) -> [UInt8] {
        var out = id(pubkey)
        append(kind, to: &out)
        return out
    }

    static func tagPrefix(_ name: UInt8, _ value: String) -> [UInt8] {
        [name] + valueKey(value)
    }

    /// Replaceable and addressable events are keyed by pubkey, kind and `d` value.
    static func address(_ address: Address) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(50)
        append(address.pubkey, to: &out)
        append(address.kind, to: &out)
        appendValueHash(address.d, to: &out)
        return out
    }

    static func tombstone(id target: Bytes32, pubkey: Bytes32) -> [UInt8] {
        var out = id(target)
        append(pubkey, to: &out)
        return out
    }

    @inline(__always)
    static func hasPrefix(_ key: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard key.count >= prefix.count else { return false }
        for i in 0..<prefix.count where key[i] != prefix[i] { return false }
        return true
    }

    static func readUInt64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Calls `body` with every index entry of `event` (database and key), building each key in
    /// `scratch` so that no key is allocated. The first value of each single-letter tag is
    /// indexed once, however often it repeats.
    static func forEachEntry(
        of event: Event, serial: UInt64, in dbs: Databases, scratch: inout [UInt8],
        _ body: (MDBDatabase, [UInt8]) throws -> Void
    ) rethrows {
        func suffix(_ out: inout [UInt8]) {
            append(inverted(event.createdAt), to: &out)
            append(serial, to: &out)
        }
        scratch.removeAll(keepingCapacity: true)
        suffix(&scratch)
        try body(dbs.created, scratch)

        scratch.removeAll(keepingCapacity: true)
        append(event.pubkey, to: &scratch)
        suffix(&scratch)
        try body(dbs.author, scratch)

        scratch.removeAll(keepingCapacity: true)
        append(event.kind, to: &scratch)
        suffix(&scratch)
        try body(dbs.kind, scratch)

        scratch.removeAll(keepingCapacity: true)
        append(event.pubkey, to: &scratch)
        append(event.kind, to: &scratch)
        suffix(&scratch)
        try body(dbs.authorKind, scratch)

        // One entry per distinct (letter, value key): a repeated tag adds no second key. A few
        // tags are compared pairwise (no allocation); many are sorted first, so an event with
        // thousands of tags costs the writer n log n, not n².
        let tags = event.tags
        var small = 0
        for tag in tags where indexedName(tag) != nil {
            small += 1
            if small > 16 { break }
        }
        if small <= 16 {
            var i = tags.startIndex
            while i != tags.endIndex {
                let tag = tags[i]
                let start = i
                i = tags.index(after: i)
                guard let name = indexedName(tag) else { continue }
                var repeated = false
                var j = tags.startIndex
                while j != start {
                    let other = tags[j]
                    if indexedName(other) == name && other.field(1, equals: tag, field: 1) {
                        repeated = true
                        break
                    }
                    j = tags.index(after: j)
                }
                if repeated { continue }
                scratch.removeAll(keepingCapacity: true)
                scratch.append(name)
                tag.withField(1) { appendValueKey($0, to: &scratch) }
                suffix(&scratch)
                try body(dbs.tag, scratch)
            }
        } else {
            var keys: [[UInt8]] = []
            for tag in tags {
                guard let name = indexedName(tag) else { continue }
                var key: [UInt8] = [name]
                key.reserveCapacity(17 + suffixLength)
                tag.withField(1) { appendValueKey($0, to: &key) }
                keys.append(key)
            }
            keys.sort { $0.lexicographicallyPrecedes($1) }
            var previous: [UInt8]? = nil
            for key in keys where key != previous {
                previous = key
                scratch.removeAll(keepingCapacity: true)
                scratch.append(contentsOf: key)
                suffix(&scratch)
                try body(dbs.tag, scratch)
            }
        }
        if let exp = event.expiration {
            scratch.removeAll(keepingCapacity: true)
            append(UInt64(max(0, exp)), to: &scratch)
            append(serial, to: &scratch)
            try body(dbs.expiration, scratch)
        }
        try forEachSearchEntry(of: event, serial: serial, in: dbs, scratch: &scratch, body)
    }

    /// NIP-50: an entry for each of the content's first `searchTokensPerEvent` distinct words;
    /// encrypted content (direct messages, gift wraps) has none worth indexing.
    static func forEachSearchEntry(
        of event: Event, serial: UInt64, in dbs: Databases, scratch: inout [UInt8],
        _ body: (MDBDatabase, [UInt8]) throws -> Void
    ) rethrows {
        guard !event.content.isEmpty && !unsearchedKinds.contains(event.kind) else { return }
        // Each distinct word once, told apart by its 16-byte key (equal words, equal keys), kept
        // on the stack: nothing is allocated for the usual note.
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: searchTokensPerEvent * 16) { seen in
            var distinct = 0
            try SearchText.forEachTokenBytes(event.content) { token in
                scratch.removeAll(keepingCapacity: true)
                appendValueKey(token, to: &scratch)
                for i in 0..<distinct {
                    var same = true
                    for j in 0..<16 where seen[i * 16 + j] != scratch[j] {
                        same = false
                        break
                    }
                    if same { return true }
                }
                for j in 0..<16 { seen[distinct * 16 + j] = scratch[j] }
                distinct += 1
                append(inverted(event.createdAt), to: &scratch)
                append(serial, to: &scratch)
                try body(dbs.search, scratch)
                return distinct < searchTokensPerEvent
            }
        }
    }

    /// At most this many distinct words of an event are indexed for search.
    static let searchTokensPerEvent = SearchText.indexedWordsPerEvent
    /// Kinds whose content is ciphertext: not indexed for search.
    static let unsearchedKinds = SearchText.unindexedKinds

    /// Appends the first 16 bytes of the value's SHA-256: a key no two values share in practice.
    static func appendValueHash(_ value: String, to out: inout [UInt8]) {
        var v = value
        let digest = v.withUTF8 { EventID.sha256(UnsafeRawBufferPointer($0)) }
        append(digest.w0, to: &out)
        append(digest.w1, to: &out)
    }

    /// The tag's single-letter name when NIP-01 says it is indexed.
    @inline(__always)
    static func indexedName(_ tag: Tag) -> UInt8? {
        guard tag.count >= 2, let c = tag.singleLetterName, TagName.isIndexable(c) else { return nil }
        return c
    }

    /// Appends 16 bytes that stand for a tag value, so index keys have a fixed size: a value of
    /// 64 lowercase hex characters (an event id or a pubkey, most indexed values) by the first 16
    /// of the 32 bytes it encodes, a value of at most 15 bytes by its length and bytes, and any
    /// other value by the first 16 bytes of its SHA-256. Equal values always get equal keys;
    /// different values may share one, which costs a lookup, not a wrong answer, because the
    /// query engine checks every event it loads against the filter.
    static func appendValueKey(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        // Addresses (pubkey, kind, d) use `appendValueHash`: there two values sharing a key would
        // make one event replace another.
        if bytes.count == 64, let decoded = Bytes32(hex: bytes) {
            append(decoded.w0, to: &out)
            append(decoded.w1, to: &out)
        } else if bytes.count <= 15 {
            out.append(UInt8(bytes.count))
            out.append(contentsOf: bytes)
            out.append(contentsOf: repeatElement(0, count: 15 - bytes.count))
        } else {
            let digest = EventID.sha256(UnsafeRawBufferPointer(bytes))
            append(digest.w0, to: &out)
            append(digest.w1, to: &out)
        }
    }

    static func appendValueKey(_ value: String, to out: inout [UInt8]) {
        var v = value
        v.withUTF8 { appendValueKey($0, to: &out) }
    }
}
