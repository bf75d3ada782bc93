/*
 * Every xenstore node the blkif backend and frontend touch, in one place.
 *
 * These are the standard vbd nodes of xen/io/blkif.h, listed in
 * xenstore-schema/rtvirt-paths.md section 3 (ids vbd-fe-* and vbd-be-*).
 * When the generated schema table is available this file is the only one to
 * switch over to rtv_xs_path()/rtv_xs_leaf().
 */
#ifndef RTVIRT_BLKIF_XS_H
#define RTVIRT_BLKIF_XS_H

/* Directories.  Backend type directory is "vbd" ($BTYPE). */
#define BLKIF_XS_BE_ROOT_FMT   "/local/domain/%u/backend/vbd"          /* $BEDOMID */
#define BLKIF_XS_BE_DEV_FMT    "/local/domain/%u/backend/vbd/%u/%u"    /* $BEDOMID $DOMID $DEVID */
#define BLKIF_XS_FE_DEV_FMT    "/local/domain/%u/device/vbd/%u"        /* $DOMID $DEVID */

/* Frontend leaves (vbd-fe-*). */
#define BLKIF_XS_FE_BACKEND        "backend"
#define BLKIF_XS_FE_BACKEND_ID     "backend-id"
#define BLKIF_XS_FE_STATE          "state"
#define BLKIF_XS_FE_VIRTUAL_DEVICE "virtual-device"
#define BLKIF_XS_FE_DEVICE_TYPE    "device-type"
#define BLKIF_XS_FE_RING_REF       "ring-ref"          /* also ring-ref%u */
#define BLKIF_XS_FE_RING_PAGE_ORDER "ring-page-order"
#define BLKIF_XS_FE_EVENT_CHANNEL  "event-channel"
#define BLKIF_XS_FE_PROTOCOL       "protocol"
#define BLKIF_XS_FE_PERSISTENT     "feature-persistent"
#define BLKIF_XS_FE_NUM_QUEUES     "multi-queue-num-queues"
#define BLKIF_XS_FE_QUEUE_FMT      "queue-%u"          /* queue-$QUEUE/ring-ref..., /event-channel */

/* Backend leaves (vbd-be-*). */
#define BLKIF_XS_BE_FRONTEND       "frontend"
#define BLKIF_XS_BE_FRONTEND_ID    "frontend-id"
#define BLKIF_XS_BE_ONLINE         "online"
#define BLKIF_XS_BE_STATE          "state"
#define BLKIF_XS_BE_PARAMS         "params"
#define BLKIF_XS_BE_MODE           "mode"
#define BLKIF_XS_BE_TYPE           "type"
#define BLKIF_XS_BE_DEVICE_TYPE    "device-type"
#define BLKIF_XS_BE_SECTORS        "sectors"
#define BLKIF_XS_BE_SECTOR_SIZE    "sector-size"
#define BLKIF_XS_BE_PHYS_SECTOR_SIZE "physical-sector-size"
#define BLKIF_XS_BE_INFO           "info"
#define BLKIF_XS_BE_FLUSH          "feature-flush-cache"
#define BLKIF_XS_BE_BARRIER        "feature-barrier"
#define BLKIF_XS_BE_DISCARD        "feature-discard"
#define BLKIF_XS_BE_DISCARD_GRAN   "discard-granularity"
#define BLKIF_XS_BE_DISCARD_ALIGN  "discard-alignment"
#define BLKIF_XS_BE_DISCARD_SECURE "discard-secure"
#define BLKIF_XS_BE_PERSISTENT     "feature-persistent"
#define BLKIF_XS_BE_MAX_INDIRECT   "feature-max-indirect-segments"
#define BLKIF_XS_BE_MAX_QUEUES     "multi-queue-max-queues"
#define BLKIF_XS_BE_MAX_RING_ORDER "max-ring-page-order"
#define BLKIF_XS_BE_HOTPLUG_STATUS "hotplug-status"
#define BLKIF_XS_BE_HOTPLUG_ERROR  "hotplug-error"

/* Limits both ends use (schema: $QUEUE 0..255, $RING 0..15, order 0..4). */
#define BLKIF_XS_MAX_QUEUES        16u
#define BLKIF_XS_MAX_RING_ORDER    4u
#define BLKIF_XS_MAX_RING_PAGES    (1u << BLKIF_XS_MAX_RING_ORDER)

#endif
