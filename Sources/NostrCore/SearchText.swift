/// NIP-50's words: how content and queries are cut into tokens.
///
/// A token is a run of letters and digits (Unicode's, combining marks included: a character is a
/// grapheme cluster), case-folded with Unicode's lowercase mapping. CJK ideographs, kana and
/// other scripts written without spaces give one token per character; each emoji is a token of
/// its own. Everything else (spaces, punctuation, symbols) separates tokens. In a query, words
/// of the form `key:value` are extensions (`include:spam`, `language:en`): they are not searched
/// for.
public enum SearchText {
    /// Tokens longer than this many bytes are cut (a run of letters without end is not a word).
    public static let maxTokenBytes = 64
    /// A store indexes at most this many distinct words of an event (its first ones).
    public static let indexedWordsPerEvent = 64
    /// Kinds whose content is ciphertext (direct messages, seals, gift wraps): not indexed.
    public static let unindexedKinds: Set<UInt16> = [4, 13, 1059]

    /// The distinct tokens of `text`, in order of first appearance, at most `limit`.
    public static func tokens(_ text: String, limit: Int = .max) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        forEachToken(text) { token in
            if seen.insert(token).inserted { out.append(token) }
            return out.count < limit
        }
        return out
    }

    /// The tokens a query searches for: its words less its `key:value` extensions.
    public static func queryTokens(_ query: String) -> [String] {
        let words = query.split(whereSeparator: { $0.isWhitespace }).filter { word in
            guard let colon = word.firstIndex(of: ":") else { return true }
            return colon == word.startIndex || word.index(after: colon) == word.endIndex
        }
        return tokens(words.joined(separator: " "))
    }

    /// Calls `body` with each token; stops when it returns false.
    static func forEachToken(_ text: String, _ body: (String) -> Bool) {
        forEachTokenBytes(text) { body(String(decoding: $0, as: UTF8.self)) }
    }

    /// Calls `body` with the UTF-8 bytes of each token (valid during the call); stops when it
    /// returns false. Allocation-free for the usual text: the word is built in a stack buffer, and
    /// a character's lowercase form is a small string.
    ///
    /// Grapheme breaking (Swift's `Character`s) is needed only around non-ASCII text: between two
    /// ASCII characters there is always a boundary (Unicode's rules join a character only to
    /// non-ASCII marks, joiners and prepended characters; the one ASCII pair, CR LF, is no word
    /// either way). So runs of ASCII are read as bytes, and only the stretches from an ASCII
    /// character before non-ASCII text to the next pair of ASCII characters as `Character`s,
    /// with the same state: the same words as `forEachTokenByCharacter`.
    public static func forEachTokenBytes(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool)
        rethrows
    {
        var text = text
        if try text.withUTF8({ bytes in try forEachASCIITokenBytes(bytes, body) }) { return }
        let done = try text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxTokenBytes) { word -> Bool in
                var words = WordState(word: word)
                let utf8 = text.utf8
                var i = 0
                let n = bytes.count
                while i < n {
                    if bytes[i] < 0x80 && (i + 1 == n || bytes[i + 1] < 0x80) {
                        guard try words.ascii(bytes[i], body) else { return true }
                        i += 1
                        continue
                    }
                    // From here (an ASCII character that non-ASCII text may join, or non-ASCII
                    // text) to the first ASCII character followed by another (not CR LF).
                    var end = i + 1
                    while end < n {
                        if bytes[end - 1] < 0x80 && bytes[end] < 0x80 && end - 1 > i
                            && !(bytes[end - 1] == 0x0D && bytes[end] == 0x0A)
                        {
                            break
                        }
                        end += 1
                    }
                    let from = utf8.index(utf8.startIndex, offsetBy: i)
                    let to = utf8.index(utf8.startIndex, offsetBy: end)
                    for character in text[from..<to] {
                        guard try words.character(character, body) else { return true }
                    }
                    i = end
                }
                _ = try words.emit(body)
                return true
            }
        }
        if done == nil { try forEachTokenByCharacter(text, body) }
    }

    /// The tokens read one `Character` at a time: the reference that `forEachTokenBytes` agrees
    /// with (the tests and the fuzz target compare them).
    public static func forEachTokenByCharacter(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool)
        rethrows
    {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxTokenBytes) { word in
            var words = WordState(word: word)
            for character in text {
                guard try words.character(character, body) else { return }
            }
            _ = try words.emit(body)
        }
    }

    /// The word being read: its bytes (a fixed buffer, never more than `maxTokenBytes`), and
    /// whether it reached that length (the rest of the word is then left out).
    struct WordState {
        /// Room for `maxTokenBytes` (the caller's).
        let word: UnsafeMutableBufferPointer<UInt8>
        var length = 0
        var full = false

        /// Hands over the word read so far, if any; false when `body` says stop.
        mutating func emit(_ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows -> Bool {
            guard length > 0 else { return true }
            defer {
                length = 0
                full = false
            }
            return try body(UnsafeBufferPointer(rebasing: word[0..<length]))
        }

        /// An ASCII character: a letter or digit joins the word, anything else ends it. An ASCII
        /// character is never an emoji here nor written without spaces.
        @inline(__always)
        mutating func ascii(_ byte: UInt8, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows -> Bool {
            let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) {
                if !full && length < SearchText.maxTokenBytes {
                    word[length] = lower
                    length += 1
                } else {
                    full = true
                }
                return true
            }
            return try emit(body)
        }

        mutating func character(_ character: Character, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool)
            rethrows -> Bool
        {
            if let ascii = character.asciiValue { return try self.ascii(ascii, body) }
            guard let first = character.unicodeScalars.first else { return true }
            if SearchText.isEmoji(character, first) || SearchText.isWrittenWithoutSpaces(first) {
                guard try emit(body) else { return false }
                append(character)
                return try emit(body)
            } else if character.isLetter || character.isNumber {
                append(character)
                return true
            }
            return try emit(body)
        }

        /// Appends a whole character's bytes, or (past the length limit) none from then on.
        mutating func append(_ character: Character) {
            guard !full else { return }
            let lower = character.lowercased()
            guard length + lower.utf8.count <= SearchText.maxTokenBytes else {
                full = true
                return
            }
            for byte in lower.utf8 {
                word[length] = byte
                length += 1
            }
        }
    }

    /// The same words for ASCII text, from its bytes (no grapheme breaking needed); false (and
    /// nothing called) when the text is not ASCII.
    static func forEachASCIITokenBytes(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool
    ) rethrows -> Bool {
        for byte in bytes where byte >= 0x80 { return false }
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxTokenBytes) { word in
            var length = 0
            for byte in bytes {
                let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                if (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) {
                    if length < maxTokenBytes {
                        word[length] = lower
                        length += 1
                    }
                } else if length > 0 {
                    let keepGoing = try body(UnsafeBufferPointer(rebasing: word[0..<length]))
                    length = 0
                    if !keepGoing { return }
                }
            }
            if length > 0 { _ = try body(UnsafeBufferPointer(rebasing: word[0..<length])) }
        }
        return true
    }

    static func isEmoji(_ character: Character, _ first: Unicode.Scalar) -> Bool {
        let properties = first.properties
        if properties.isEmojiPresentation { return true }
        // A text-default emoji made an emoji by a variation selector or a joiner sequence.
        return properties.isEmoji && first.value > 0x7F && character.unicodeScalars.count > 1
            && !(character.isLetter || character.isNumber)
    }

    /// Han ideographs, kana, and a few other scripts usually written without spaces.
    static func isWrittenWithoutSpaces(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3040...0x30FF,  // Hiragana, Katakana
            0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF,  // CJK ideographs
            0x20000...0x2FA1F,  // CJK extensions
            0x0E00...0x0E7F,  // Thai
            0x0E80...0x0EFF,  // Lao
            0x1000...0x109F,  // Myanmar
            0x1780...0x17FF:  // Khmer
            return true
        default:
            return false
        }
    }

    /// NIP-50's match quality of content holding every query token: how much of the content the
    /// query's words make up (occurrences over the content's length, plus a constant so that a
    /// one-word note does not always win), as an integer (higher is better).
    public static func score(content: String, query: [String]) -> Int {
        match(content: content, query: query) ?? 0
    }

    /// The score of content holding every query token, or nil when one is missing; one pass
    /// over the content's words, compared as bytes (nothing allocated for up to 8 query words).
    public static func match(content: String, query: [String]) -> Int? {
        guard !query.isEmpty else { return 0 }
        var words = 0
        var hits = 0
        var found: UInt64 = 0
        let all: UInt64 = query.count >= 64 ? .max : (1 << UInt64(query.count)) - 1
        forEachTokenBytes(content) { token in
            words += 1
            for (i, wanted) in query.enumerated() {
                var wanted = wanted
                let same = wanted.withUTF8 { w in
                    w.count == token.count && (w.count == 0 || memcmp(w.baseAddress!, token.baseAddress!, w.count) == 0)
                }
                if same {
                    hits += 1
                    if i < 64 { found |= 1 << UInt64(i) }
                    break
                }
            }
            return words < 10_000
        }
        guard found & all == all else { return nil }
        return hits * 1_000_000 / (words + 8)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
