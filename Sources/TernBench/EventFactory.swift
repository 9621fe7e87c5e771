import Dispatch
import NostrCore
import NostrTools

/// An event signed before timing starts, with its wire message ready to send.
struct PreparedEvent: Sendable {
    let id: Bytes32
    let author: Int
    let kind: UInt16
    let topic: String
    let createdAt: Int64
    /// What the realistic query mix asks for: a reaction's `e` value, a note's `p` mention, an
    /// article's `d` value.
    var e: String? = nil
    var p: String? = nil
    var d: String? = nil
    let message: [UInt8]
}

/// Makes realistic, signed events: many authors; content of varied length with unicode, quotes,
/// backslashes and newlines; e/p/t tags; mostly kind 1 with reactions, profiles, follow lists
/// (replaceable) and long-form posts (addressable). Every event also carries `["t", runTag]`.
struct EventFactory: Sendable {
    static let topics = ["nostr", "bitcoin", "swift", "grownostr", "photography", "music", "zaps", "dev"]
    static let phrases = [
        "gm nostr ☀️", "Just shipped a new release", "\"quoted\" text with a \\ backslash",
        "line one\nline two\n\ttabbed", "日本語のテキストも大丈夫", "emoji 🐦⚡️🤙 and ünïcödé",
        "https://example.com/some/long/path?with=query&and=more", "the quick brown fox jumps over the lazy dog",
    ]

    let signers: [Signer]
    let runTag: String

    init(authors: Int, seed: UInt64, runTag: String) {
        signers = (0..<authors).map { Signer(seed: seed &+ UInt64($0)) }
        self.runTag = runTag
    }

    var authorKeys: [Bytes32] { signers.map(\.publicKey) }

    /// `count` events, signed on all cores. created_at rises by a second per index, ending at `now`,
    /// so that later replaceable versions are always newer.
    func make(count: Int, now: Int64) -> [PreparedEvent] {
        let chunk = 256
        let chunks = (count + chunk - 1) / chunk
        let results = UnsafeMutableBufferPointer<PreparedEvent?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            // Release the events before the memory (LeakSanitizer found them leaked without this).
            results.deinitialize()
            results.deallocate()
        }
        let out = SendableBuffer(results)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                out.buffer[i] = make(index: i, createdAt: now - Int64(count - i))
            }
        }
        return results.map { $0! }
    }

    func make(index i: Int, createdAt: Int64) -> PreparedEvent {
        var rng = SplitMix64(seed: UInt64(i) &* 0x9E37_79B9 &+ UInt64(runTag.utf8.count))
        let author = Int(rng.next() % UInt64(signers.count))
        let signer = signers[author]
        let topic = Self.topics[Int(rng.next() % UInt64(Self.topics.count))]
        var tags: [[String]] = [["t", runTag], ["t", topic]]
        let roll = rng.next() % 100
        let kind: UInt16
        var content: String
        var (e, p, d): (String?, String?, String?) = (nil, nil, nil)
        switch roll {
        case 0..<5:
            kind = 0
            content =
                #"{"name":"user\#(author)","about":"\#(Self.phrases[author % Self.phrases.count].replacingQuotes)"}"#
        case 5..<8:
            kind = 3
            content = ""
            for k in 0..<5 { tags.append(["p", signers[(author + k + 1) % signers.count].publicKey.hex]) }
        case 8..<13:
            kind = 7
            content = "+"
            // Reactions go to a few notes each (64 targets), as popular notes gather many.
            e = Bytes32(w0: rng.next() % 64, w1: 7, w2: 7, w3: 7).hex
            tags.append(["e", e!])
            tags.append(["p", signers[Int(rng.next() % UInt64(signers.count))].publicKey.hex])
        case 13..<18:
            kind = 30023
            d = "article-\(rng.next() % 8)"
            tags.append(["d", d!])
            tags.append(["title", "A long-form post"])
            content = String(repeating: Self.phrases[Int(rng.next() % UInt64(Self.phrases.count))] + " ", count: 8)
        default:
            kind = 1
            content = ""
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                content += Self.phrases[Int(rng.next() % UInt64(Self.phrases.count))] + " "
            }
            if rng.next() % 3 == 0 {
                tags.append([
                    "e", Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()).hex, "", "reply",
                ])
                p = signers[Int(rng.next() % UInt64(signers.count))].publicKey.hex
                tags.append(["p", p!])
            }
        }
        content += " #\(i) \(runTag)"
        let event = signer.event(kind: kind, content: content, tags: Tags(tags), createdAt: createdAt)
        var message = Array(#"["EVENT","#.utf8)
        event.appendJSON(to: &message)
        message.append(UInt8(ascii: "]"))
        return PreparedEvent(
            id: event.id, author: author, kind: kind, topic: topic, createdAt: createdAt, e: e, p: p, d: d,
            message: message)
    }
}

private extension String {
    var replacingQuotes: String { String(map { $0 == "\"" || $0 == "\\" || $0 == "\n" || $0 == "\t" ? " " : $0 }) }
}

struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
