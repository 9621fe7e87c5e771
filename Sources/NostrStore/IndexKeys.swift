import NostrCore

/// Byte layouts of the store's keys. Times are stored inverted and big-endian, so an ascending
/// cursor walk yields newest first, and the id that ends each key breaks ties in lexical order,
/// exactly NIP-01's answer order.
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

    static func id(_ id: Bytes32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        append(id, to: &out)
        return out
    }

    /// 16 bytes of SHA-256 of a tag value: fixed-size keys for values of any length.
    static func valueHash(_ value: String) -> [UInt8] {
        var v = value
        let digest = v.withUTF8 { EventID.sha256(UnsafeRawBufferPointer($0)) }
        var out: [UInt8] = []
        out.reserveCapacity(16)
        append(digest.w0, to: &out)
        append(digest.w1, to: &out)
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
        [name] + valueHash(value)
    }

    /// The key for one event under an index: prefix + inverted created_at + id.
    static func entry(_ prefix: [UInt8], _ event: Event) -> [UInt8] {
        var out = prefix
        out.reserveCapacity(prefix.count + 40)
        append(inverted(event.createdAt), to: &out)
        append(event.id, to: &out)
        return out
    }

    /// Replaceable and addressable events are keyed by pubkey, kind and `d` value.
    static func address(pubkey: Bytes32, kind: UInt16, d: String) -> [UInt8] {
        var out = id(pubkey)
        append(kind, to: &out)
        out.append(contentsOf: valueHash(d))
        return out
    }

    static func address(of event: Event) -> [UInt8] {
        address(pubkey: event.pubkey, kind: event.kind, d: event.kindClass == .addressable ? event.dTag : "")
    }

    static func tombstone(id target: Bytes32, pubkey: Bytes32) -> [UInt8] {
        var out = id(target)
        append(pubkey, to: &out)
        return out
    }

    static func expiration(_ at: Int64, _ id: Bytes32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(40)
        append(UInt64(max(0, at)), to: &out)
        append(id, to: &out)
        return out
    }

    static func readUInt64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Every index entry an event has: (database, key).
    static func entries(for event: Event, in dbs: Databases) -> [(MDBDatabase, [UInt8])] {
        var out: [(MDBDatabase, [UInt8])] = [
            (dbs.created, entry([], event)),
            (dbs.author, entry(authorPrefix(event.pubkey), event)),
            (dbs.kind, entry(kindPrefix(event.kind), event)),
            (dbs.authorKind, entry(authorKindPrefix(event.pubkey, event.kind), event)),
        ]
        var seen = Set<[UInt8]>()
        event.forEachIndexedTag { name, value in
            let prefix = tagPrefix(name, value)
            if seen.insert(prefix).inserted { out.append((dbs.tag, entry(prefix, event))) }
        }
        if let exp = event.expiration { out.append((dbs.expiration, expiration(exp, event.id))) }
        return out
    }
}
