/// A byte-level JSON reader over a buffer the caller keeps alive. It reads exactly the shapes a
/// relay needs and skips anything else with a depth limit, so deep nesting cannot exhaust the
/// stack. It never uses Foundation.
public struct JSONScanner {
    public enum Failure: Error, Equatable {
        case syntax(String)
        case tooDeep
    }

    public let bytes: UnsafeBufferPointer<UInt8>
    public var position: Int
    public let maxDepth: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 16) {
        self.bytes = bytes
        self.position = 0
        self.maxDepth = maxDepth
    }

    @inlinable
    public mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    @inlinable
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    public mutating func expect(_ c: UInt8) throws(Failure) {
        guard peek() == c else {
            throw .syntax("expected '\(Character(Unicode.Scalar(c)))' at byte \(position)")
        }
        position += 1
    }

    /// Consumes `c` if it is next.
    public mutating func consume(_ c: UInt8) -> Bool {
        if peek() == c {
            position += 1
            return true
        }
        return false
    }

    public var atEnd: Bool {
        mutating get {
            skipWhitespace()
            return position >= bytes.count
        }
    }

    /// Reads a string and returns its raw (still escaped) byte range plus whether it has escapes.
    public mutating func readRawString() throws(Failure) -> (range: Range<Int>, escaped: Bool) {
        try expect(UInt8(ascii: "\""))
        let start = position
        var escaped = false
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                let range = start..<position
                position += 1
                return (range, escaped)
            } else if c == UInt8(ascii: "\\") {
                escaped = true
                position += 2
            } else if c < 0x20 {
                throw .syntax("control character in string")
            } else {
                position += 1
            }
        }
        throw .syntax("unterminated string")
    }

    /// Reads a string value, decoding escapes and validating UTF-8.
    public mutating func readString() throws(Failure) -> String {
        let (range, escaped) = try readRawString()
        return try decodeString(range: range, escaped: escaped)
    }

    public func decodeString(range: Range<Int>, escaped: Bool) throws(Failure) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[range])
        if !escaped {
            guard let s = String(validating: raw, as: UTF8.self) else { throw .syntax("invalid UTF-8 in string") }
            return s
        }
        // Decoded straight into the string's storage: escapes only shrink the text, so the raw
        // length is enough, and the string is the only allocation.
        var failure: Failure?
        let decoded = String(unsafeUninitializedCapacity: raw.count) { out in
            do throws(Failure) {
                let n = try Self.unescape(raw, into: out)
                guard Self.isValidUTF8(UnsafeBufferPointer(rebasing: out[..<n])) else {
                    throw .syntax("invalid UTF-8 in string")
                }
                return n
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        return decoded
    }

    /// Appends the string at `range` to `out` with its escapes decoded, checking its UTF-8.
    /// Decodes in place after a copy of the raw bytes: an escape never decodes to more bytes
    /// than it takes, so the write position never passes the read position.
    func appendDecodedString(range: Range<Int>, escaped: Bool, to out: inout [UInt8]) throws(Failure) {
        let start = out.count
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
        var length = range.count
        if escaped {
            var failure: Failure?
            length = out.withUnsafeMutableBufferPointer { buffer in
                let field = UnsafeMutableBufferPointer(rebasing: buffer[start...])
                do throws(Failure) {
                    return try Self.unescape(UnsafeBufferPointer(field), into: field)
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw failure }
            out.removeLast(range.count - length)
        }
        let valid = out.withUnsafeBufferPointer { Self.isValidUTF8(UnsafeBufferPointer(rebasing: $0[start...])) }
        guard valid else { throw .syntax("invalid UTF-8 in string") }
    }

    /// Writes `raw` with its JSON escapes decoded into `out` (at least `raw.count` bytes) and
    /// returns the length written.
    private static func unescape(
        _ raw: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>
    ) throws(Failure) -> Int {
        var n = 0
        var i = 0
        while i < raw.count {
            let c = raw[i]
            if c != UInt8(ascii: "\\") {
                out[n] = c
                n += 1
                i += 1
                continue
            }
            guard i + 1 < raw.count else { throw .syntax("bad escape") }
            let e = raw[i + 1]
            i += 2
            let byte: UInt8
            switch e {
            case UInt8(ascii: "\""): byte = 0x22
            case UInt8(ascii: "\\"): byte = 0x5C
            case UInt8(ascii: "/"): byte = 0x2F
            case UInt8(ascii: "b"): byte = 0x08
            case UInt8(ascii: "f"): byte = 0x0C
            case UInt8(ascii: "n"): byte = 0x0A
            case UInt8(ascii: "r"): byte = 0x0D
            case UInt8(ascii: "t"): byte = 0x09
            case UInt8(ascii: "u"):
                var scalar = try hex4(raw, at: i)
                i += 4
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") else {
                        throw .syntax("unpaired surrogate in string")
                    }
                    let low = try hex4(raw, at: i + 2)
                    guard low >= 0xDC00 && low < 0xE000 else { throw .syntax("unpaired surrogate in string") }
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw .syntax("unpaired surrogate in string")
                }
                guard let u = Unicode.Scalar(scalar) else { throw .syntax("bad unicode escape") }
                for b in UTF8.encode(u)! {
                    out[n] = b
                    n += 1
                }
                continue
            default:
                throw .syntax("bad escape")
            }
            out[n] = byte
            n += 1
        }
        return n
    }

    /// Strict UTF-8 (no overlong forms, no surrogates), as `String(validating:)` checks it.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func hex4(_ raw: UnsafeBufferPointer<UInt8>, at i: Int) throws(Failure) -> UInt32 {
        guard i + 4 <= raw.count else { throw .syntax("bad unicode escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = raw[i + k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw .syntax("bad unicode escape")
            }
            v = v << 4 | d
        }
        return v
    }

    /// The kinds of number a field may hold.
    public enum Number: Equatable {
        case integer(Int64)
        /// Valid JSON, but with a fraction, an exponent, or out of Int64's range.
        case other
    }

    /// Reads a JSON number; integers are returned exactly, anything else as `.other`.
    public mutating func readNumber() throws(Failure) -> Number {
        skipWhitespace()
        let start = position
        var negative = false
        if position < bytes.count && bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var magnitude: UInt64 = 0
        var overflow = false
        while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(bytes[position] - 0x30))
            overflow = overflow || o1 || o2
            magnitude = m2
            position += 1
        }
        let digitCount = position - digitsStart
        guard digitCount > 0 else { throw .syntax("expected a value at byte \(start)") }
        if digitCount > 1 && bytes[digitsStart] == UInt8(ascii: "0") { throw .syntax("leading zero in number") }
        var isInteger = true
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            let fracStart = position
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
            guard position > fracStart else { throw .syntax("bad number") }
        }
        if position < bytes.count && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            isInteger = false
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
            {
                position += 1
            }
            let expStart = position
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
            guard position > expStart else { throw .syntax("bad number") }
        }
        guard isInteger, !overflow else { return .other }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return .other }
            return .integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
        }
        guard magnitude <= UInt64(Int64.max) else { return .other }
        return .integer(Int64(magnitude))
    }

    /// Skips any JSON value, refusing nesting deeper than `maxDepth` (counted from `depth`).
    public mutating func skipValue(depth: Int = 0) throws(Failure) {
        guard let c = peek() else { throw .syntax("unexpected end of input") }
        switch c {
        case UInt8(ascii: "\""):
            _ = try readRawString()
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw .tooDeep }
            position += 1
            if consume(UInt8(ascii: "]")) { return }
            repeat { try skipValue(depth: depth + 1) } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw .tooDeep }
            position += 1
            if consume(UInt8(ascii: "}")) { return }
            repeat {
                _ = try readRawString()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default:
            _ = try readNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw .syntax("bad literal") }
        for k in 0..<n where bytes[position + k] != word.utf8Start[k] { throw .syntax("bad literal") }
        position += n
    }

    /// Compares the raw bytes of a string range with an ASCII key.
    @inlinable
    public func rawEquals(_ range: Range<Int>, _ key: StaticString) -> Bool {
        guard range.count == key.utf8CodeUnitCount else { return false }
        for k in 0..<range.count where bytes[range.lowerBound + k] != key.utf8Start[k] { return false }
        return true
    }
}
