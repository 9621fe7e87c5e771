/// An event's tags, held flat: every field's UTF-8 bytes back to back in one buffer, and one
/// array that says where each tag and field ends. As `[[String]]` they cost an allocation per
/// tag and one per field longer than 15 bytes (hex ids, relay URLs); here they cost two for
/// the whole event, and fields are compared and indexed as bytes without building strings.
///
/// `layout` holds, for each tag in order, its field count `n` and then `n + 1` byte offsets:
/// where the tag's first field starts and where each of its fields ends.
public struct Tags: Sendable, Equatable {
    @usableFromInline var bytes: [UInt8]
    @usableFromInline var layout: [UInt32]

    public init() {
        bytes = []
        layout = []
    }

    /// Room for `bytes` bytes of field text and `tags` tags of `fields` fields in all.
    init(reservingBytes bytes: Int, tags: Int, fields: Int) {
        self.init()
        self.bytes.reserveCapacity(bytes)
        layout.reserveCapacity(2 * tags + fields)
    }

    public init(_ tags: [[String]]) {
        self.init(
            reservingBytes: tags.reduce(0) { $0 + $1.reduce(0) { $0 + $1.utf8.count } }, tags: tags.count,
            fields: tags.reduce(0) { $0 + $1.count })
        for tag in tags { append(tag) }
    }

    public mutating func append(_ tag: [String]) {
        let header = beginTag()
        for field in tag {
            bytes.append(contentsOf: field.utf8)
            endField(of: header)
        }
    }

    /// Starts a tag with no fields; returns its position for `endField(of:)`.
    mutating func beginTag() -> Int {
        layout.append(0)
        layout.append(UInt32(bytes.count))
        return layout.count - 2
    }

    /// Ends the field whose bytes were just appended to `bytes`.
    mutating func endField(of header: Int) {
        layout[header] += 1
        layout.append(UInt32(bytes.count))
    }

    /// The tags as arrays of strings (allocates; for tests, tools and the reference matcher).
    public var arrays: [[String]] { map { Array($0) } }
}

extension Tags: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: [String]...) {
        self.init(elements)
    }
}

extension Tags: CustomStringConvertible {
    public var description: String { "\(arrays)" }
}

extension Tags: Collection {
    /// A tag's position in `layout`.
    public struct Index: Comparable, Sendable {
        @usableFromInline let offset: Int

        @inlinable init(_ offset: Int) { self.offset = offset }

        @inlinable public static func < (a: Index, b: Index) -> Bool { a.offset < b.offset }
    }

    @inlinable public var startIndex: Index { Index(0) }
    @inlinable public var endIndex: Index { Index(layout.count) }
    @inlinable public var isEmpty: Bool { layout.isEmpty }

    @inlinable
    public func index(after i: Index) -> Index { Index(i.offset + 2 + Int(layout[i.offset])) }

    @inlinable
    public subscript(i: Index) -> Tag { Tag(tags: self, header: i.offset) }
}

/// One tag: a view of its fields in `Tags`. Reading a field as a `String` builds one; the
/// byte-level accessors (`withField`, `field(_:equals:)`, `singleLetterName`) do not allocate.
public struct Tag: RandomAccessCollection, Sendable {
    @usableFromInline let tags: Tags
    @usableFromInline let header: Int

    @inlinable init(tags: Tags, header: Int) {
        self.tags = tags
        self.header = header
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { Int(tags.layout[header]) }

    /// The byte range of field `i` in the tags' buffer.
    @inlinable
    func range(_ i: Int) -> Range<Int> {
        precondition(i >= 0 && i < endIndex, "tag field index out of range")
        return Int(tags.layout[header + 1 + i])..<Int(tags.layout[header + 2 + i])
    }

    /// Field `i` as a string.
    public subscript(i: Int) -> String {
        withField(i) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the UTF-8 bytes of field `i`.
    @inlinable
    public func withField<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let r = range(i)
        return try tags.bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[r])) }
    }

    /// Whether field `i` is exactly `value`.
    @inlinable
    public func field(_ i: Int, equals value: String) -> Bool {
        withField(i) { UTF8Bytes.equal(value, $0) }
    }

    /// Whether field `i` of this tag and field `j` of `other` hold the same bytes.
    @inlinable
    public func field(_ i: Int, equals other: Tag, field j: Int) -> Bool {
        withField(i) { a in other.withField(j) { b in a.count == b.count && a.elementsEqual(b) } }
    }

    /// The name's byte when the name is one byte long (the tags relays index are single letters).
    @inlinable
    public var singleLetterName: UInt8? {
        guard endIndex >= 1 else { return nil }
        let r = range(0)
        return r.count == 1 ? tags.bytes[r.lowerBound] : nil
    }
}

/// Byte-level comparison of a string with UTF-8 bytes, without building a string.
@usableFromInline
enum UTF8Bytes {
    @inlinable
    static func equal(_ value: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let utf8 = value.utf8
        guard utf8.count == bytes.count else { return false }
        return utf8.withContiguousStorageIfAvailable { $0.elementsEqual(bytes) } ?? utf8.elementsEqual(bytes)
    }
}
