/// A Nostr event as NIP-01 defines it. Ids, pubkeys and signatures are fixed-size values.
public struct Event: Sendable, Equatable {
    public var id: Bytes32
    public var pubkey: Bytes32
    public var createdAt: Int64
    public var kind: UInt16
    public var tags: Tags
    public var content: String
    public var sig: Signature64

    public init(
        id: Bytes32, pubkey: Bytes32, createdAt: Int64, kind: UInt16, tags: Tags, content: String,
        sig: Signature64
    ) {
        self.id = id
        self.pubkey = pubkey
        self.createdAt = createdAt
        self.kind = kind
        self.tags = tags
        self.content = content
        self.sig = sig
    }

    public var kindClass: KindClass { KindClass(kind: kind) }

    /// The value of the first `d` tag, or "" when there is none (NIP-01 addressable events).
    public var dTag: String {
        for tag in tags where tag.singleLetterName == UInt8(ascii: "d") {
            return tag.count >= 2 ? tag[1] : ""
        }
        return ""
    }

    /// The NIP-40 expiration timestamp, if the event carries a valid one.
    public var expiration: Int64? {
        for tag in tags where tag.count >= 2 && tag.field(0, equals: "expiration") {
            return Int64(tag[1])
        }
        return nil
    }

    /// True when the event carries the NIP-70 `["-"]` tag.
    public var isProtected: Bool {
        tags.contains { $0.count == 1 && $0.singleLetterName == UInt8(ascii: "-") }
    }

    /// Calls `body` for every single-letter tag's name and the bytes of its first value, the
    /// pairs relays index.
    @inlinable
    public func forEachIndexedTag(_ body: (UInt8, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        for tag in tags where tag.count >= 2 {
            if let c = tag.singleLetterName, TagName.isIndexable(c) {
                try tag.withField(1) { try body(c, $0) }
            }
        }
    }

    /// The first value of the first tag called `name`, e.g. NIP-42's `challenge` and `relay`.
    public func firstValue(ofTag name: String) -> String? {
        for tag in tags where tag.count >= 2 && tag.field(0, equals: name) { return tag[1] }
        return nil
    }
}

public enum TagName {
    /// Single letters a-z and A-Z are indexed (NIP-01).
    @inlinable
    public static func isIndexable(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
}
