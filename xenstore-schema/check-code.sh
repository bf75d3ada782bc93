#!/bin/sh
# make check: every xenstore node named anywhere in the tree is in the schema.
cd "$(dirname "$0")/.." || exit 1
exec "${PYTHON:-python3}" xenstore-schema/validate-code.py \
    common dom0-backend domU-frontend shunt ioemu p2m-tools xl-scripts tests
