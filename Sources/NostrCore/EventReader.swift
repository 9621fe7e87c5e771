/// Reads one event from a line of a JSONL file (imports): the event, or why the line is not one.
public enum EventReader {
    /// Why a line is not an event.
    public struct Failure: Error, Sendable {
        public let reason: String

        public init(reason: String) { self.reason = reason }
    }

    public static func read(_ line: UnsafeBufferPointer<UInt8>) -> Result<Event, Failure> {
        var s = JSONScanner(line)
        s.skipWhitespace()
        let event: Event
        do {
            event = try EventParser.parse(&s)
        } catch {
            switch error {
            case .invalidEvent(_, let reason), .malformed(let reason): return .failure(Failure(reason: reason))
            case .invalidFilter(_, let rejection), .invalidNegentropy(_, let rejection):
                return .failure(Failure(reason: rejection.detail))
            }
        }
        s.skipWhitespace()
        guard s.atEnd else { return .failure(Failure(reason: "text after the event object")) }
        return .success(event)
    }
}
