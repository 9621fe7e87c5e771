/// The fixed-size fields of a stored event (id, pubkey, created_at, kind) and where its tags
/// are, read from its JSON without building a string or a tag array: enough to check a filter
/// that has no tag condition.
public struct EventHead: Sendable, Equatable {
    public var id: Bytes32
    public var pubkey: Bytes32
    public var createdAt: Int64
    public var kind: UInt16
    /// The byte range of the `tags` array in the JSON.
    public var tags: Range<Int>

    public init(id: Bytes32, pubkey: Bytes32, createdAt: Int64, kind: UInt16, tags: Range<Int>) {
        self.id = id
        self.pubkey = pubkey
        self.createdAt = createdAt
        self.kind = kind
        self.tags = tags
    }

    /// Reads the head of an event's JSON object, stopping once the five fields are found (the
    /// relay writes them first); nil when one is missing or malformed.
    public static func decode(json: UnsafeBufferPointer<UInt8>) -> EventHead? {
        if let head = decodeAsWritten(json) { return head }
        return decodeAnyOrder(json)
    }

    /// The head of JSON laid out as `Event.appendJSON` writes it (every stored event): the
    /// fields at known places, no key compared by scanning. Nil for any other layout (the
    /// general reader then decides).
    static func decodeAsWritten(_ json: UnsafeBufferPointer<UInt8>) -> EventHead? {
        // {"id":"<64>","pubkey":"<64>","created_at":<digits>,"kind":<digits>,"tags":[
        guard json.count > 190, has(json, at: 0, "{\"id\":\""), has(json, at: 71, "\",\"pubkey\":\""),
            has(json, at: 147, "\",\"created_at\":"),
            let id = Bytes32(hex64: UnsafeBufferPointer(rebasing: json[7..<71])),
            let pubkey = Bytes32(hex64: UnsafeBufferPointer(rebasing: json[83..<147]))
        else { return nil }
        var position = 162
        guard let createdAt = digits(json, &position, max: 18), has(json, at: position, ",\"kind\":") else {
            return nil
        }
        position += 8
        guard let kind = digits(json, &position, max: 5), kind <= 65535, has(json, at: position, ",\"tags\":[")
        else { return nil }
        var s = JSONScanner(json)
        s.position = position + 8
        let start = s.position
        do { try s.skipValue(depth: 1) } catch { return nil }
        return EventHead(id: id, pubkey: pubkey, createdAt: createdAt, kind: UInt16(kind), tags: start..<s.position)
    }

    @inline(__always)
    private static func has(_ json: UnsafeBufferPointer<UInt8>, at offset: Int, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= json.count else { return false }
        return memcmp(json.baseAddress! + offset, literal.utf8Start, count) == 0
    }

    /// A run of 1 to `max` decimal digits from `position` (moved past them), without a leading
    /// zero unless it is the only digit: JSON's form of a non-negative integer.
    @inline(__always)
    private static func digits(_ json: UnsafeBufferPointer<UInt8>, _ position: inout Int, max: Int) -> Int64? {
        var value: Int64 = 0
        let start = position
        while position < json.count, position - start < max, json[position] &- 0x30 < 10 {
            value = value * 10 + Int64(json[position] &- 0x30)
            position += 1
        }
        let length = position - start
        guard length > 0, position < json.count, json[position] &- 0x30 >= 10 else { return nil }
        if length > 1 && json[start] == 0x30 { return nil }
        return value
    }

    /// The head of an event object with its keys in any order.
    static func decodeAnyOrder(_ json: UnsafeBufferPointer<UInt8>) -> EventHead? {
        var s = JSONScanner(json)
        var id: Bytes32?
        var pubkey: Bytes32?
        var createdAt: Int64?
        var kind: UInt16?
        var tags: Range<Int>?
        do {
            guard s.peek() == UInt8(ascii: "{") else { return nil }
            s.position += 1
            repeat {
                guard s.peek() == UInt8(ascii: "\"") else { return nil }
                let (key, _) = try s.readRawString()
                try s.expect(UInt8(ascii: ":"))
                if s.rawEquals(key, "id") || s.rawEquals(key, "pubkey") {
                    guard s.peek() == UInt8(ascii: "\"") else { return nil }
                    let (range, escaped) = try s.readRawString()
                    guard !escaped, let value = Bytes32(hex: UnsafeBufferPointer(rebasing: s.bytes[range])) else {
                        return nil
                    }
                    if s.rawEquals(key, "id") { id = value } else { pubkey = value }
                } else if s.rawEquals(key, "created_at") || s.rawEquals(key, "kind") {
                    guard let c = s.peek(),
                        c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")),
                        case .integer(let v) = try s.readNumber()
                    else { return nil }
                    if s.rawEquals(key, "kind") {
                        guard v >= 0 && v <= 65535 else { return nil }
                        kind = UInt16(v)
                    } else {
                        createdAt = v
                    }
                } else if s.rawEquals(key, "tags") {
                    guard s.peek() == UInt8(ascii: "[") else { return nil }
                    let start = s.position
                    try s.skipValue(depth: 1)
                    tags = start..<s.position
                } else {
                    try s.skipValue(depth: 1)
                }
                if let id, let pubkey, let createdAt, let kind, let tags {
                    return EventHead(id: id, pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags)
                }
            } while s.consume(UInt8(ascii: ","))
        } catch {
            return nil
        }
        return nil
    }
}

extension Filter {
    /// Whether an event with this head passes the filter. Only for filters without tag
    /// conditions (`tags.isEmpty`): the head does not hold the tags.
    @inlinable
    public func matches(_ head: EventHead) -> Bool {
        tags.isEmpty && searchTokens.isEmpty
            && matchesFields(id: head.id, pubkey: head.pubkey, kind: head.kind, createdAt: head.createdAt)
    }

    /// Whether an event's stored JSON passes the filter (`limit` aside), with its head: read
    /// from the head and the tags array where that can be done, decoded only where it cannot.
    /// Nil when the bytes are not an event.
    public func matches(storedJSON json: UnsafeBufferPointer<UInt8>) -> (head: EventHead, matches: Bool)? {
        guard let head = EventHead.decode(json: json) else { return nil }
        if let matches = matches(head, tags: UnsafeBufferPointer(rebasing: json[head.tags])) { return (head, matches) }
        guard let event = Event.decode(json: json) else { return nil }
        return (head, matches(event))
    }

    /// Whether an event with this head and this stored tags array (`head.tags` of its JSON)
    /// passes the filter; nil when the tags cannot be read that way (see `matchesTags(json:)`).
    public func matches(_ head: EventHead, tags json: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard matchesFields(id: head.id, pubkey: head.pubkey, kind: head.kind, createdAt: head.createdAt) else {
            return false
        }
        guard searchTokens.isEmpty else { return nil }  // the content is needed: decode
        return matchesTags(json: json)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
