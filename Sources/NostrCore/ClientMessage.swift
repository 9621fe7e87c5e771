/// Messages a client sends (NIP-01, NIP-42).
public enum ClientMessage: Sendable {
    case event(Event)
    case req(subscriptionID: String, filters: [Filter])
    case close(subscriptionID: String)
    case auth(Event)
}

/// Why a client message could not be read. Each case knows what the relay answers.
public enum ClientMessageError: Error, Equatable {
    /// Not a message at all (bad JSON, not an array, unknown verb): answered with a NOTICE.
    case malformed(String)
    /// An EVENT or AUTH whose event is unacceptable; answered with OK false when the id is known.
    case invalidEvent(id: Bytes32?, reason: String)
    /// A REQ the relay refuses: answered with CLOSED.
    case invalidFilter(subscriptionID: String, rejection: Rejection)
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
        case "REQ":
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
                throw .invalidFilter(subscriptionID: subID, rejection: .invalid("REQ needs at least one filter"))
            }
            do { try s.expect(UInt8(ascii: "]")) } catch { throw .malformed("REQ is not a well-formed array") }
            guard s.atEnd else { throw .malformed("trailing data after message") }
            message = .req(subscriptionID: subID, filters: filters)
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
