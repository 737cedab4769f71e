/// Every kind of topology object, with the name it has in the NSDB.
///
/// The raw value is the path segment under `/midge/v1/models/<Type>/<id>`, so
/// it is part of the storage format: never rename a raw value.
public enum ModelType: String, Hashable, Sendable, CaseIterable, Codable {
  case host = "Host"
  case tunnelZone = "TunnelZone"
  case bridge = "Bridge"
  case router = "Router"
  case port = "Port"
  case route = "Route"
  case chain = "Chain"
  case rule = "Rule"
  case portGroup = "PortGroup"
  case ipAddrGroup = "IPAddrGroup"
  case dhcp = "Dhcp"
}
