/// Messages a client sends (NIP-01, NIP-42, NIP-45, NIP-77).
public enum ClientMessage: Sendable {
    case event(Event)
    case req(subscriptionID: String, filters: [Filter])
    case close(subscriptionID: String)
    case auth(Event)
    /// NIP-45: how many events match any of the filters.
    case count(subscriptionID: String, filters: [Filter])
    /// NIP-77: a negentropy reconciliation of the events matching `filter` begins with the
    /// client's first message (decoded from hex).
    case negOpen(subscriptionID: String, filter: Filter, message: [UInt8])
    case negMsg(subscriptionID: String, message: [UInt8])
    case negClose(subscriptionID: String)
}

/// Why a client message could not be read. Each case knows what the relay answers.
public enum ClientMessageError: Error, Equatable {
    /// Not a message at all (bad JSON, not an array, unknown verb): answered with a NOTICE.
    case malformed(String)
    /// An EVENT or AUTH whose event is unacceptable; answered with OK false when the id is known.
    case invalidEvent(id: Bytes32?, reason: String)
    /// A REQ or COUNT the relay refuses: answered with CLOSED.
    case invalidFilter(subscriptionID: String, rejection: Rejection)
    /// A NEG-OPEN or NEG-MSG the relay refuses: answered with NEG-ERR.
    case invalidNegentropy(subscriptionID: String, rejection: Rejection)
}

/// Limits that parsing itself enforces, so that nothing is built past them.
public struct ParseLimits: Sendable {
    public var maxSubscriptionIDLength: Int
    public var maxFilters: Int
    public var maxFilterValues: Int
    public var maxLimit: Int
    public var maxDepth: Int

    public init(
        maxSubscriptionIDLength: Int = 64, maxFilters: Int = 20, maxFilterValues: Int = 1000,
        maxLimit: Int = 5000, maxDepth: Int = 16
    ) {
        self.maxSubscriptionIDLength = maxSubscriptionIDLength
        self.maxFilters = maxFilters
        self.maxFilterValues = maxFilterValues
        self.maxLimit = maxLimit
        self.maxDepth = maxDepth
    }
}

extension ClientMessage {
    public static func parse(_ text: [UInt8], limits: ParseLimits = ParseLimits()) throws(ClientMessageError)
        -> ClientMessage
    {
        do {
            return try text.withUnsafeBufferPointer { (buf) throws(ClientMessageError) -> ClientMessage in
                try parse(buf, limits: limits)
            }
        }
    }

    public static func parse(_ text: UnsafeBufferPointer<UInt8>, limits: ParseLimits = ParseLimits())
        throws(ClientMessageError) -> ClientMessage
    {
        var s = JSONScanner(text, maxDepth: limits.maxDepth)
        let verb: String
        do {
            try s.expect(UInt8(ascii: "["))
            guard s.peek() == UInt8(ascii: "\"") else {
                throw ClientMessageError.malformed("message must start with a verb string")
            }
            verb = try s.readString()
        } catch let e as JSONScanner.Failure {
            throw .malformed(describe(e, "message is not a JSON array"))
        } catch let e as ClientMessageError {
            throw e
        } catch {
            throw .malformed("unreadable message")
        }
        let message: ClientMessage
        switch verb {
        case "EVENT", "AUTH":
            let isAuth = verb == "AUTH"
            guard s.consume(UInt8(ascii: ",")) else { throw .malformed("\(verb) needs an event") }
            if isAuth && s.peek() == UInt8(ascii: "\"") {
                throw .malformed("AUTH from a client carries a signed event")
            }
            let event = try EventParser.parse(&s)
            message = isAuth ? .auth(event) : .event(event)
            try finish(&s, verb: verb, id: event.id)
        case "REQ", "COUNT":
            let subID = try readSubscriptionID(&s, verb: verb, limits: limits)
            var filters: [Filter] = []
            while s.consume(UInt8(ascii: ",")) {
                guard filters.count < limits.maxFilters else {
                    throw .invalidFilter(
                        subscriptionID: subID, rejection: .invalid("too many filters (max \(limits.maxFilters))"))
                }
                filters.append(try FilterParser.parse(&s, subscriptionID: subID, limits: limits))
            }
            guard !filters.isEmpty else {
                throw .invalidFilter(subscriptionID: subID, rejection: .invalid("\(verb) needs at least one filter"))
            }
            do { try s.expect(UInt8(ascii: "]")) } catch { throw .malformed("\(verb) is not a well-formed array") }
            guard s.atEnd else { throw .malformed("trailing data after message") }
            message =
                verb == "REQ"
                ? .req(subscriptionID: subID, filters: filters) : .count(subscriptionID: subID, filters: filters)
        case "NEG-OPEN":
            let subID = try readSubscriptionID(&s, verb: verb, limits: limits)
            guard s.consume(UInt8(ascii: ",")) else { throw .malformed("NEG-OPEN needs a filter") }
            let filter: Filter
            do throws(ClientMessageError) {
                filter = try FilterParser.parse(&s, subscriptionID: subID, limits: limits)
            } catch {
                if case .invalidFilter(_, let rejection) = error {
                    throw .invalidNegentropy(subscriptionID: subID, rejection: rejection)
                }
                throw error
            }
            guard s.consume(UInt8(ascii: ",")) else { throw .malformed("NEG-OPEN needs an initial message") }
            // An early draft sent the id size (32) before the message.
            if let c = s.peek(), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                guard (try? s.readNumber()) == .integer(32), s.consume(UInt8(ascii: ",")) else {
                    throw .invalidNegentropy(subscriptionID: subID, rejection: .invalid("ids are 32 bytes"))
                }
            }
            let bytes = try readNegentropyMessage(&s, verb: verb, subscriptionID: subID)
            try finishNegentropy(&s, verb: verb)
            message = .negOpen(subscriptionID: subID, filter: filter, message: bytes)
        case "NEG-MSG":
            let subID = try readSubscriptionID(&s, verb: verb, limits: limits)
            guard s.consume(UInt8(ascii: ",")) else { throw .malformed("NEG-MSG needs a message") }
            let bytes = try readNegentropyMessage(&s, verb: verb, subscriptionID: subID)
            try finishNegentropy(&s, verb: verb)
            message = .negMsg(subscriptionID: subID, message: bytes)
        case "NEG-CLOSE":
            let subID = try readSubscriptionID(&s, verb: verb, limits: limits)
            try finishNegentropy(&s, verb: verb)
            message = .negClose(subscriptionID: subID)
        case "CLOSE":
            let subID = try readSubscriptionID(&s, verb: verb, limits: limits)
            do { try s.expect(UInt8(ascii: "]")) } catch { throw .malformed("CLOSE takes exactly one subscription id") }
            guard s.atEnd else { throw .malformed("trailing data after message") }
            message = .close(subscriptionID: subID)
        default:
            throw .malformed("unknown message type \"\(verb.prefix(32))\"")
        }
        return message
    }

    private static func finishNegentropy(_ s: inout JSONScanner, verb: String) throws(ClientMessageError) {
        do { try s.expect(UInt8(ascii: "]")) } catch { throw .malformed("\(verb) is not a well-formed array") }
        guard s.atEnd else { throw .malformed("trailing data after message") }
    }

    /// A negentropy message: a string of hex digits (either case), an even number of them.
    private static func readNegentropyMessage(_ s: inout JSONScanner, verb: String, subscriptionID: String)
        throws(ClientMessageError) -> [UInt8]
    {
        guard s.peek() == UInt8(ascii: "\"") else { throw .malformed("\(verb) needs a hex message string") }
        let text: String
        do { text = try s.readString() } catch { throw .malformed(describe(error, "bad \(verb) message")) }
        guard let bytes = Hex.decode(text) else {
            throw .invalidNegentropy(subscriptionID: subscriptionID, rejection: .invalid("the message is not hex"))
        }
        return bytes
    }

    private static func finish(_ s: inout JSONScanner, verb: String, id: Bytes32)
        throws(ClientMessageError)
    {
        do {
            try s.expect(UInt8(ascii: "]"))
        } catch {
            throw .invalidEvent(id: id, reason: "\(verb) takes exactly one event")
        }
        guard s.atEnd else { throw .invalidEvent(id: id, reason: "trailing data after message") }
    }

    private static func readSubscriptionID(_ s: inout JSONScanner, verb: String, limits: ParseLimits)
        throws(ClientMessageError) -> String
    {
        guard s.consume(UInt8(ascii: ",")), s.peek() == UInt8(ascii: "\"") else {
            throw .malformed("\(verb) needs a subscription id string")
        }
        let id: String
        do { id = try s.readString() } catch { throw .malformed(describe(error, "bad subscription id")) }
        guard !id.isEmpty else {
            throw .invalidFilter(subscriptionID: id, rejection: .invalid("subscription id must not be empty"))
        }
        guard id.utf8.count <= limits.maxSubscriptionIDLength else {
            throw .invalidFilter(
                subscriptionID: id,
                rejection: .invalid("subscription id longer than \(limits.maxSubscriptionIDLength) characters"))
        }
        return id
    }

    static func describe(_ e: JSONScanner.Failure, _ context: String) -> String {
        switch e {
        case .syntax(let why): return "\(context): \(why)"
        case .tooDeep: return "\(context): nesting too deep"
        }
    }
}
