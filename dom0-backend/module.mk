# dom0-backend/: rtvirt-backd, the userspace blkif backend daemon.
# The pure request checking lives in common/ (named here so it is built even
# if common/module.mk's glob changes; duplicates are deduplicated).
LIB_SRCS += common/blkif_req.c
