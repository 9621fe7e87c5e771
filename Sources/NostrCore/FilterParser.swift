/// Reads one REQ filter object into a compiled `Filter`, refusing what NIP-01 does not allow.
enum FilterParser {
    static func parse(_ s: inout JSONScanner, subscriptionID: String, limits: ParseLimits) throws(ClientMessageError)
        -> Filter
    {
        func invalid(_ why: String) -> ClientMessageError {
            .invalidFilter(subscriptionID: subscriptionID, rejection: .invalid(why))
        }
        var ids: [Bytes32]?
        var authors: [Bytes32]?
        var kinds: [UInt16]?
        var tags: [Filter.TagCondition] = []
        var since: Int64?
        var until: Int64?
        var limit: Int?
        var search: String?
        do {
            guard s.peek() == UInt8(ascii: "{") else { throw invalid("filter must be a JSON object") }
            s.position += 1
            if !s.consume(UInt8(ascii: "}")) {
                repeat {
                    guard s.peek() == UInt8(ascii: "\"") else { throw invalid("filter keys must be strings") }
                    let (keyRange, escaped) = try s.readRawString()
                    let key = UnsafeBufferPointer(rebasing: s.bytes[keyRange])
                    try s.expect(UInt8(ascii: ":"))
                    if escaped {
                        throw ClientMessageError.invalidFilter(
                            subscriptionID: subscriptionID, rejection: .unsupported("filter contains unknown elements"))
                    }
                    if s.rawEquals(keyRange, "ids") {
                        guard ids == nil else { throw invalid("duplicate ids") }
                        ids = try readHexList(&s, field: "ids", limits: limits, invalid: invalid)
                    } else if s.rawEquals(keyRange, "authors") {
                        guard authors == nil else { throw invalid("duplicate authors") }
                        authors = try readHexList(&s, field: "authors", limits: limits, invalid: invalid)
                    } else if s.rawEquals(keyRange, "kinds") {
                        guard kinds == nil else { throw invalid("duplicate kinds") }
                        var list: [UInt16] = []
                        try readList(&s, field: "kinds", limits: limits, invalid: invalid) {
                            (s) throws(ClientMessageError) in
                            let message = "kinds must be integers between 0 and 65535"
                            guard case .integer(let v) = try readNumber(&s, invalid: invalid(message)), v >= 0,
                                v <= 65535
                            else { throw invalid(message) }
                            list.append(UInt16(v))
                        }
                        kinds = list
                    } else if s.rawEquals(keyRange, "since") || s.rawEquals(keyRange, "until") {
                        let isSince = s.rawEquals(keyRange, "since")
                        // Literals only: building the message must not allocate on the good path.
                        let message =
                            isSince ? "since must be a non-negative integer" : "until must be a non-negative integer"
                        guard case .integer(let v) = try readNumber(&s, invalid: invalid(message)), v >= 0 else {
                            throw invalid(message)
                        }
                        if isSince { since = v } else { until = v }
                    } else if s.rawEquals(keyRange, "search") {
                        guard search == nil else { throw invalid("duplicate search") }
                        guard s.peek() == UInt8(ascii: "\"") else { throw invalid("search must be a string") }
                        let query = try s.readString()
                        guard query.utf8.count <= Filter.maxSearchLength else {
                            throw invalid("search longer than \(Filter.maxSearchLength) bytes")
                        }
                        search = query
                    } else if s.rawEquals(keyRange, "limit") {
                        let message = "limit must be a non-negative integer"
                        switch try readNumber(&s, invalid: invalid(message)) {
                        case .integer(let v) where v >= 0: limit = Int(min(v, Int64(limits.maxLimit)))
                        case .other: limit = limits.maxLimit  // a huge integer is clamped like any other
                        default: throw invalid(message)
                        }
                    } else if key.count == 2, key[0] == UInt8(ascii: "#"), TagName.isIndexable(key[1]) {
                        let name = key[1]
                        guard !tags.contains(where: { $0.name == name }) else { throw invalid("duplicate tag filter") }
                        var values = Set<String>()
                        let mustBeHex = name == UInt8(ascii: "e") || name == UInt8(ascii: "p")
                        try readList(&s, field: "#" + String(UnicodeScalar(name)), limits: limits, invalid: invalid) {
                            (s) throws(ClientMessageError) in
                            guard s.peek() == UInt8(ascii: "\"") else { throw invalid("tag values must be strings") }
                            let value: String
                            do throws(JSONScanner.Failure) {
                                value = try s.readString()
                            } catch {
                                throw invalid(ClientMessage.describe(error, "bad #\(UnicodeScalar(name)) value"))
                            }
                            if mustBeHex && Bytes32(hex: value) == nil {
                                throw invalid("#\(UnicodeScalar(name)) values must be 64 lowercase hex characters")
                            }
                            values.insert(value)
                        }
                        tags.append(Filter.TagCondition(name: name, values: values))
                    } else {
                        throw ClientMessageError.invalidFilter(
                            subscriptionID: subscriptionID, rejection: .unsupported("filter contains unknown elements"))
                    }
                } while s.consume(UInt8(ascii: ","))
                try s.expect(UInt8(ascii: "}"))
            }
        } catch let e as JSONScanner.Failure {
            throw invalid(ClientMessage.describe(e, "malformed filter"))
        } catch let e as ClientMessageError {
            throw e
        } catch {
            throw invalid("malformed filter")
        }
        return Filter(
            ids: ids, authors: authors, kinds: kinds, tags: tags, since: since, until: until, limit: limit,
            search: search)
    }

    /// Reads a JSON number; anything else (or a malformed number) is refused with `invalid`.
    private static func readNumber(_ s: inout JSONScanner, invalid: @autoclosure () -> ClientMessageError)
        throws(ClientMessageError) -> JSONScanner.Number
    {
        switch s.peek() {
        case .some(UInt8(ascii: "-")), .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            do { return try s.readNumber() } catch { throw invalid() }
        default:
            throw invalid()
        }
    }

    private static func readList(
        _ s: inout JSONScanner, field: String, limits: ParseLimits, invalid: (String) -> ClientMessageError,
        element: (inout JSONScanner) throws(ClientMessageError) -> Void
    ) throws(ClientMessageError) {
        guard s.consume(UInt8(ascii: "[")) else { throw invalid("\(field) must be an array") }
        if s.consume(UInt8(ascii: "]")) { return }
        var count = 0
        repeat {
            count += 1
            guard count <= limits.maxFilterValues else {
                throw invalid("\(field) has more than \(limits.maxFilterValues) values")
            }
            try element(&s)
        } while s.consume(UInt8(ascii: ","))
        guard s.consume(UInt8(ascii: "]")) else { throw invalid("\(field) must be an array") }
    }

    private static func readHexList(
        _ s: inout JSONScanner, field: String, limits: ParseLimits, invalid: (String) -> ClientMessageError
    ) throws(ClientMessageError) -> [Bytes32] {
        var list: [Bytes32] = []
        try readList(&s, field: field, limits: limits, invalid: invalid) { (s) throws(ClientMessageError) in
            guard s.peek() == UInt8(ascii: "\"") else { throw invalid("\(field) must hold strings") }
            let raw: (range: Range<Int>, escaped: Bool)
            do { raw = try s.readRawString() } catch { throw invalid("bad \(field) value") }
            guard !raw.escaped, let v = Bytes32(hex: UnsafeBufferPointer(rebasing: s.bytes[raw.range])) else {
                throw invalid("\(field) must be 64 lowercase hex characters")
            }
            list.append(v)
        }
        return list
    }
}
