import Datapath

// The module `Datapath` has a class `Datapath`, so `DatapathFlowTag` does not name the
// module's type; and `Simulation` has a `FlowTag` and a `FlowAction` of its own. Files
// that import both use these names for the datapath's.

/// The datapath's flow tag (two words).
public typealias DatapathFlowTag = FlowTag
/// The datapath's flow action (port numbers and tunnel endpoints).
public typealias DatapathFlowAction = FlowAction
