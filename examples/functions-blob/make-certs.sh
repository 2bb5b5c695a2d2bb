#!/usr/bin/env bash
# Makes a throw-away test CA and a server certificate for
# stfuncdata.blob.core.windows.net, so Azurite can serve the storage account's
# real HTTPS name and the SDK can verify it (trust DIR/ca.pem through
# REQUESTS_CA_BUNDLE / SSL_CERT_FILE). Used by the README and by
# tests/example_functions_blob.rs.
#   usage: make-certs.sh DIR   -> DIR/ca.pem DIR/server.pem DIR/server-key.pem
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
name=${CERT_NAME:-stfuncdata.blob.core.windows.net}
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vnetlab example test CA" \
    -keyout ca-key.pem -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout server-key.pem -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$name" >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
