import NostrStore

/// Arbitrary bytes as a log segment (after the header, and as they are): the scan must stop at
/// a record boundary within the bytes, the records it keeps must encode back to exactly the
/// bytes up to there, and a segment cut there must scan clean with the same records. The bytes
/// (and each record kept) as a record's payload: `LogRecord.decode` refuses or returns writes
/// that encode back to exactly those bytes.
enum LogTarget {
    static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        check(Array(bytes))
        check(LogFormat.header + Array(bytes))
        checkPayload(Array(bytes))
    }

    static func checkPayload(_ payload: [UInt8]) {
        guard let writes = payload.withUnsafeBytes({ LogRecord.decode($0) }) else { return }
        guard LogRecord.encode(writes) == payload else { fatalError("a decoded record does not encode back") }
    }

    static func check(_ segment: [UInt8]) {
        let scan = LogFormat.scan(segment)
        guard scan.problem != .badHeader else {
            if segment.starts(with: LogFormat.header) { fatalError("a segment with the header read as bad") }
            return
        }
        guard scan.end <= segment.count, scan.end >= LogFormat.header.count else {
            fatalError("the scan ended outside the segment: \(scan.end) of \(segment.count)")
        }
        var rebuilt = LogFormat.header
        for range in scan.payloads {
            guard range.lowerBound >= LogFormat.header.count, range.upperBound <= scan.end else {
                fatalError("a record outside the good part")
            }
            LogFormat.appendRecord(Array(segment[range]), to: &rebuilt)
            checkPayload(Array(segment[range]))
        }
        guard rebuilt.elementsEqual(segment[0..<scan.end]) else { fatalError("the good records do not re-encode") }
        let again = LogFormat.scan(Array(segment[0..<scan.end]))
        guard again.problem == nil, again.payloads == scan.payloads, again.end == scan.end else {
            fatalError("a segment cut at its last good record does not scan clean")
        }
        if scan.problem == nil && scan.end != segment.count { fatalError("a clean scan stopped early") }
    }
}
