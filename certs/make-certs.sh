#!/usr/bin/env bash
# Makes a CA and a serving certificate signed by it, for the webhook's HTTPS
# port in local runs, the test bed and the demo. Uses only openssl.
#
#   certs/make-certs.sh --out DIR --dns NAME [--dns NAME ...] [--ip IP ...]
#                       [--days N] [--ca-days N] [--force]
#
# Writes DIR/ca.crt, DIR/ca.key, DIR/tls.crt, DIR/tls.key (the key names of a
# kubernetes.io/tls Secret, plus the CA). An existing DIR/ca.crt + ca.key is
# reused, so a serving certificate can be renewed without changing the
# caBundle; --force makes a new CA as well. See certs/README.md.
set -euo pipefail

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
fail() { echo "make-certs.sh: $*" >&2; exit 1; }

out="" days=365 ca_days=3650 force=0
dns=() ips=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --dns) dns+=("${2:?--dns needs a name}"); shift 2 ;;
    --ip) ips+=("${2:?--ip needs an address}"); shift 2 ;;
    --days) days="${2:?--days needs a number}"; shift 2 ;;
    --ca-days) ca_days="${2:?--ca-days needs a number}"; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage ;;
    *) echo "make-certs.sh: unknown option '$1'" >&2; usage ;;
  esac
done

[ -n "$out" ] || fail "--out DIR is required (where ca.crt, tls.crt and their keys go)"
[ $((${#dns[@]} + ${#ips[@]})) -gt 0 ] || fail "give at least one --dns NAME or --ip IP: the serving certificate needs a subject alternative name (e.g. --dns bluegreen-guard-webhook.bluegreen-guard.svc --ip 127.0.0.1)"
[[ "$days" =~ ^[1-9][0-9]*$ ]] || fail "--days must be a positive number of days, got '$days'"
[[ "$ca_days" =~ ^[1-9][0-9]*$ ]] || fail "--ca-days must be a positive number of days, got '$ca_days'"
[ "$ca_days" -ge "$days" ] || fail "--ca-days ($ca_days) must be at least --days ($days): a certificate cannot outlive its CA"
for name in "${dns[@]}"; do
  [[ "$name" =~ ^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] || fail "--dns '$name' is not a lower-case DNS name"
done
for ip in "${ips[@]}"; do
  [[ "$ip" =~ ^[0-9.]+$ || "$ip" =~ ^[0-9a-fA-F:]+$ ]] || fail "--ip '$ip' is not an IPv4 or IPv6 address"
done
command -v openssl >/dev/null || fail "openssl is not installed (Debian: apt-get install openssl)"

mkdir -p "$out"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$force" = 1 ] || [ ! -s "$out/ca.crt" ] || [ ! -s "$out/ca.key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key" 2>/dev/null
  openssl req -x509 -new -sha256 -key "$work/ca.key" -days "$ca_days" \
    -subj "/O=bluegreen-guard/CN=bluegreen-guard webhook CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$work/ca.crt" 2>/dev/null
  mv "$work/ca.key" "$out/ca.key"
  mv "$work/ca.crt" "$out/ca.crt"
  echo "make-certs.sh: new CA in $out/ca.crt (valid $ca_days days)" >&2
else
  openssl x509 -in "$out/ca.crt" -noout -checkend $((days * 86400)) >/dev/null ||
    fail "the CA in $out/ca.crt expires within $days days, before the new certificate would; run again with --force to make a new CA (and update every caBundle)"
  echo "make-certs.sh: reusing the CA in $out/ca.crt" >&2
fi

san=()
for name in "${dns[@]}"; do san+=("DNS:$name"); done
for ip in "${ips[@]}"; do san+=("IP:$ip"); done
san_line="$(IFS=,; echo "${san[*]}")"
cn="${dns[0]:-${ips[0]}}"
# CN is at most 64 bytes; clients check the SAN, the CN is only a label.
cn="${cn:0:64}"

cat > "$work/ext.cnf" <<CNF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san_line
CNF
openssl ecparam -name prime256v1 -genkey -noout -out "$work/tls.key" 2>/dev/null
openssl req -new -sha256 -key "$work/tls.key" -subj "/O=bluegreen-guard/CN=$cn" -out "$work/tls.csr" 2>/dev/null
openssl x509 -req -sha256 -in "$work/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null
openssl verify -CAfile "$out/ca.crt" "$work/tls.crt" >/dev/null || fail "the new certificate does not verify against $out/ca.crt"
mv "$work/tls.key" "$out/tls.key"
mv "$work/tls.crt" "$out/tls.crt"
chmod 644 "$out/ca.crt" "$out/tls.crt"
echo "make-certs.sh: serving certificate $out/tls.crt for $san_line (valid $days days)" >&2
