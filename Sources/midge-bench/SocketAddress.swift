import CommandSupport
import Glibc

/// `ADDRESS:PORT` (IPv4) as a socket address; an error names what is wrong.
func socketAddress(_ text: String) throws -> sockaddr_in {
  guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...])
  else { throw CommandError("'\(text)' is not ADDRESS:PORT", code: .invalidInput) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = port.bigEndian
  guard inet_pton(AF_INET, String(text[..<colon]), &address.sin_addr) == 1 else {
    throw CommandError("'\(text)': bad IPv4 address", code: .invalidInput)
  }
  return address
}
