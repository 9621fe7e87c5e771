/// Any JSON document, for the relay's small side inputs and outputs (NIP-86 requests and
/// answers, write-policy plugin lines, the stored management lists): read with `JSONScanner`'s
/// depth limit, written with `JSONWriter`'s escaping. Not for events, which have their own
/// parser and writer.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// An integer that fits Int64; other numbers are `.number`.
    case integer(Int64)
    /// A number with a fraction or exponent, or out of Int64's range, kept as its text.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order (a repeated key keeps both; `[key]` finds the first).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.integer(let x), .integer(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// Parses exactly one JSON value (whitespace around it allowed), nesting at most `maxDepth`.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 16) throws(JSONScanner.Failure) -> JSONValue {
        let result: Result<JSONValue, JSONScanner.Failure> = bytes.withUnsafeBufferPointer { buffer in
            var s = JSONScanner(buffer, maxDepth: maxDepth)
            do throws(JSONScanner.Failure) {
                let value = try read(&s, depth: 0)
                guard s.atEnd else { return .failure(.syntax("unexpected text after the value at byte \(s.position)")) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public static func parse(_ text: String, maxDepth: Int = 16) throws(JSONScanner.Failure) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private static func read(_ s: inout JSONScanner, depth: Int) throws(JSONScanner.Failure) -> JSONValue {
        guard let c = s.peek() else { throw .syntax("unexpected end of input") }
        switch c {
        case UInt8(ascii: "\""):
            return .string(try s.readString())
        case UInt8(ascii: "["):
            guard depth < s.maxDepth else { throw .tooDeep }
            s.position += 1
            var items: [JSONValue] = []
            if s.consume(UInt8(ascii: "]")) { return .array(items) }
            repeat { items.append(try read(&s, depth: depth + 1)) } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "]"))
            return .array(items)
        case UInt8(ascii: "{"):
            guard depth < s.maxDepth else { throw .tooDeep }
            s.position += 1
            var members: [(String, JSONValue)] = []
            if s.consume(UInt8(ascii: "}")) { return .object(members) }
            repeat {
                guard s.peek() == UInt8(ascii: "\"") else { throw .syntax("expected a key at byte \(s.position)") }
                let key = try s.readString()
                try s.expect(UInt8(ascii: ":"))
                members.append((key, try read(&s, depth: depth + 1)))
            } while s.consume(UInt8(ascii: ","))
            try s.expect(UInt8(ascii: "}"))
            return .object(members)
        case UInt8(ascii: "t"): return try literal(&s, "true", .bool(true))
        case UInt8(ascii: "f"): return try literal(&s, "false", .bool(false))
        case UInt8(ascii: "n"): return try literal(&s, "null", .null)
        default:
            let start = s.position
            switch try s.readNumber() {
            case .integer(let i): return .integer(i)
            case .other: return .number(String(decoding: s.bytes[start..<s.position], as: UTF8.self))
            }
        }
    }

    private static func literal(_ s: inout JSONScanner, _ word: StaticString, _ value: JSONValue)
        throws(JSONScanner.Failure) -> JSONValue
    {
        let n = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { w in
            s.position + n <= s.bytes.count
                && UnsafeBufferPointer(rebasing: s.bytes[s.position..<(s.position + n)]).elementsEqual(w)
        }
        guard matches else { throw .syntax("unexpected character at byte \(s.position)") }
        s.position += n
        return value
    }

    // MARK: Reading

    /// The first member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    // MARK: Writing

    public func append(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let i): JSONWriter.appendInt(i, to: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let s): JSONWriter.appendString(s, to: &out, mode: .output)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.append(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(key, to: &out, mode: .output)
                out.append(UInt8(ascii: ":"))
                value.append(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
