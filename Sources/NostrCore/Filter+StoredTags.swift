/// Tag conditions checked on an event's stored JSON, so that a query with tag conditions need
/// not decode the event (its strings and tag arrays) to find out whether it matches.
extension Filter {
    /// Whether the tags array `json` (the raw bytes of `[[...], ...]`, as `EventHead.tags`
    /// locates it) satisfies every tag condition of this filter: some tag named by the condition
    /// has a first value in its set. Nil when the bytes are not an array of string arrays, or
    /// the filter has more conditions than this check tracks; callers then decode the event.
    public func matchesTags(json: UnsafeBufferPointer<UInt8>) -> Bool? {
        if tags.isEmpty { return true }
        guard tags.count <= 64 else { return nil }
        let all: UInt64 = tags.count == 64 ? ~0 : (1 << UInt64(tags.count)) - 1
        var satisfied: UInt64 = 0
        var s = JSONScanner(json)
        let quote = UInt8(ascii: "\"")
        do {
            try s.expect(UInt8(ascii: "["))
            if s.consume(UInt8(ascii: "]")) { return false }
            repeat {
                try s.expect(UInt8(ascii: "["))
                guard s.peek() == quote else { return nil }
                let (name, nameEscaped) = try s.readRawString()
                // The relay never escapes a letter; an escaped name is left to the decoder.
                if nameEscaped { return nil }
                if name.count == 1, s.consume(UInt8(ascii: ",")) {
                    guard s.peek() == quote else { return nil }
                    let (value, escaped) = try s.readRawString()
                    let letter = s.bytes[name.lowerBound]
                    for (i, condition) in tags.enumerated() where condition.name == letter {
                        let bit = UInt64(1) << UInt64(i)
                        guard satisfied & bit == 0 else { continue }
                        // An escaped value is decoded; the relay escapes only quotes, backslashes and
                        // control characters, so this is rare.
                        let found =
                            escaped
                            ? condition.values.contains(try s.decodeString(range: value, escaped: true))
                            : condition.contains(UnsafeBufferPointer(rebasing: s.bytes[value]))
                        if found { satisfied |= bit }
                    }
                }
                while s.consume(UInt8(ascii: ",")) {
                    guard s.peek() == quote else { return nil }
                    _ = try s.readRawString()
                }
                try s.expect(UInt8(ascii: "]"))
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "]"))
        } catch {
            return nil
        }
        return satisfied == all
    }
}
