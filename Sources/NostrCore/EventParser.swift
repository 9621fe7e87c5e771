/// Reads an event object field by field. A bad field does not stop the scan, so that the id can
/// still be reported in the OK answer; the first problem found is the reason given.
enum EventParser {
    static func parse(_ s: inout JSONScanner) throws(ClientMessageError) -> Event {
        var id: Bytes32?
        var pubkey: Bytes32?
        var sig: Signature64?
        var createdAt: Int64?
        var kind: UInt16?
        var tags: Tags?
        var content: String?
        var problem: String?
        var seen = 0 as UInt8

        func fail(_ why: String) -> ClientMessageError { .invalidEvent(id: id, reason: why) }

        do {
            guard s.peek() == UInt8(ascii: "{") else { throw fail("event must be a JSON object") }
            s.position += 1
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    guard s.peek() == UInt8(ascii: "\"") else { throw fail("event keys must be strings") }
                    let (key, _) = try s.readRawString()
                    try s.expect(UInt8(ascii: ":"))
                    let bit: UInt8
                    if s.rawEquals(key, "id") {
                        bit = 1
                        if let r = try hexField(&s) { id = Bytes32(hex: r) }
                        if id == nil { problem = problem ?? "id must be 64 lowercase hex characters" }
                    } else if s.rawEquals(key, "pubkey") {
                        bit = 2
                        if let r = try hexField(&s) { pubkey = Bytes32(hex: r) }
                        if pubkey == nil { problem = problem ?? "pubkey must be 64 lowercase hex characters" }
                    } else if s.rawEquals(key, "sig") {
                        bit = 4
                        if let r = try hexField(&s) { sig = Signature64(hex: r) }
                        if sig == nil { problem = problem ?? "sig must be 128 lowercase hex characters" }
                    } else if s.rawEquals(key, "created_at") {
                        bit = 8
                        if case .integer(let v)? = try numberField(&s), v >= 0, v <= 0xFFFF_FFFF_FFFF {
                            createdAt = v
                        } else {
                            problem = problem ?? "created_at must be a non-negative integer timestamp"
                        }
                    } else if s.rawEquals(key, "kind") {
                        bit = 16
                        if case .integer(let v)? = try numberField(&s), v >= 0, v <= 65535 {
                            kind = UInt16(v)
                        } else {
                            problem = problem ?? "kind must be an integer between 0 and 65535"
                        }
                    } else if s.rawEquals(key, "tags") {
                        bit = 32
                        tags = try readTags(&s)
                        if tags == nil { problem = problem ?? "tags must be an array of non-empty arrays of strings" }
                    } else if s.rawEquals(key, "content") {
                        bit = 64
                        if s.peek() == UInt8(ascii: "\"") {
                            content = try s.readString()
                        } else {
                            try s.skipValue(depth: 1)
                            problem = problem ?? "content must be a string"
                        }
                    } else {
                        bit = 0
                        try s.skipValue(depth: 1)
                    }
                    if bit != 0 {
                        if seen & bit != 0 { problem = problem ?? "duplicate field in event" }
                        seen |= bit
                    }
                } while s.consume(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
        } catch let e as JSONScanner.Failure {
            throw fail(ClientMessage.describe(e, "malformed event"))
        } catch let e as ClientMessageError {
            throw e
        } catch {
            throw fail("malformed event")
        }
        if let problem { throw fail(problem) }
        guard let id, let pubkey, let sig, let createdAt, let kind, let tags, let content else {
            let missing = [
                id == nil ? "id" : nil, pubkey == nil ? "pubkey" : nil, createdAt == nil ? "created_at" : nil,
                kind == nil ? "kind" : nil, tags == nil ? "tags" : nil, content == nil ? "content" : nil,
                sig == nil ? "sig" : nil,
            ].compactMap { $0 }
            throw fail("missing field: \(missing.joined(separator: ", "))")
        }
        return Event(id: id, pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags, content: content, sig: sig)
    }

    /// The raw bytes of a string field that could be hex (no escapes), or nil for anything else.
    private static func hexField(_ s: inout JSONScanner) throws(JSONScanner.Failure) -> UnsafeBufferPointer<UInt8>? {
        guard s.peek() == UInt8(ascii: "\"") else {
            try s.skipValue(depth: 1)
            return nil
        }
        let (range, escaped) = try s.readRawString()
        return escaped ? nil : UnsafeBufferPointer(rebasing: s.bytes[range])
    }

    private static func numberField(_ s: inout JSONScanner) throws(JSONScanner.Failure) -> JSONScanner.Number? {
        switch s.peek() {
        case .some(UInt8(ascii: "-")), .some(UInt8(ascii: "0")...UInt8(ascii: "9")): return try s.readNumber()
        default:
            try s.skipValue(depth: 1)
            return nil
        }
    }

    /// `[[string, ...], ...]` with every inner array non-empty; nil (value skipped) otherwise.
    /// A first pass checks the shape and counts tags, fields and bytes, so that the second can
    /// decode into buffers of the right size: two allocations for all the tags.
    private static func readTags(_ s: inout JSONScanner) throws(JSONScanner.Failure) -> Tags? {
        guard s.peek() == UInt8(ascii: "[") else {
            try s.skipValue(depth: 1)
            return nil
        }
        let start = s.position
        var tagCount = 0
        var fieldCount = 0
        var byteCount = 0
        s.position += 1
        if !s.consume(UInt8(ascii: "]")) {
            repeat {
                guard s.peek() == UInt8(ascii: "[") else { return try skipFrom(start, &s) }
                s.position += 1
                repeat {
                    guard s.peek() == UInt8(ascii: "\"") else { return try skipFrom(start, &s) }
                    byteCount += try s.readRawString().range.count
                    fieldCount += 1
                } while s.consume(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "]"))
                tagCount += 1
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "]"))
        }
        let end = s.position
        var tags = Tags(reservingBytes: byteCount, tags: tagCount, fields: fieldCount)
        s.position = start + 1
        while tagCount > 0 {
            _ = s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "["))
            let header = tags.beginTag()
            repeat {
                let (range, escaped) = try s.readRawString()
                try s.appendDecodedString(range: range, escaped: escaped, to: &tags.bytes)
                tags.endField(of: header)
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "]"))
            tagCount -= 1
        }
        s.position = end
        return tags
    }

    private static func skipFrom(_ start: Int, _ s: inout JSONScanner) throws(JSONScanner.Failure) -> Tags? {
        s.position = start
        try s.skipValue(depth: 1)
        return nil
    }
}

extension Event {
    /// Reads an event from its JSON object form (as stored). Nil when it is not a valid event.
    public static func decode(json: UnsafeBufferPointer<UInt8>) -> Event? {
        var s = JSONScanner(json)
        return try? EventParser.parse(&s)
    }

    public static func decode(json: [UInt8]) -> Event? {
        json.withUnsafeBufferPointer { decode(json: $0) }
    }
}
