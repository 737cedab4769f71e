#ifndef MIDGE_CZOOKEEPER_SHIM_H
#define MIDGE_CZOOKEEPER_SHIM_H
/* THREADED must come before the header: without it the synchronous API and
 * zoo_multi are not declared (the library is libzookeeper_mt). */
#define THREADED 1
#include <zookeeper/zookeeper.h>
#include <stdlib.h>
#include <string.h>

/* The library's globals are mutable C globals, which Swift 6 refuses to read
 * from concurrent code. Each is exposed once through an accessor. */
static inline struct ACL_vector *midge_zk_open_acl(void) { return &ZOO_OPEN_ACL_UNSAFE; }

/* ACL vectors built from Swift: allocated here, every string copied, freed by
 * midge_zk_acl_free. The library serializes a request's ACL when the call is
 * made, so a vector may be freed once the call returned (or, in a multi, once
 * the multi is freed). */
static inline struct ACL_vector *midge_zk_acl_alloc(int count) {
  struct ACL_vector *v = (struct ACL_vector *)calloc(1, sizeof(struct ACL_vector));
  if (!v) return NULL;
  v->count = count;
  v->data = (struct ACL *)calloc(count > 0 ? count : 1, sizeof(struct ACL));
  if (!v->data) { free(v); return NULL; }
  return v;
}

static inline void midge_zk_acl_set(struct ACL_vector *v, int i, int perms, const char *scheme,
                                    const char *id) {
  v->data[i].perms = perms;
  v->data[i].id.scheme = strdup(scheme);
  v->data[i].id.id = strdup(id);
}

static inline void midge_zk_acl_free(struct ACL_vector *v) {
  if (!v || v == &ZOO_OPEN_ACL_UNSAFE) return;
  for (int i = 0; i < v->count; i++) {
    free(v->data[i].id.scheme);
    free(v->data[i].id.id);
  }
  free(v->data);
  free(v);
}

static inline int midge_zk_acl_count(const struct ACL_vector *v) { return v ? v->count : 0; }
static inline int midge_zk_acl_perms(const struct ACL_vector *v, int i) { return v->data[i].perms; }
static inline const char *midge_zk_acl_scheme(const struct ACL_vector *v, int i) {
  return v->data[i].id.scheme;
}
static inline const char *midge_zk_acl_id(const struct ACL_vector *v, int i) {
  return v->data[i].id.id;
}

static inline int midge_zk_mode_persistent(void) { return ZOO_PERSISTENT; }
static inline int midge_zk_mode_ephemeral(void) { return ZOO_EPHEMERAL; }
static inline int midge_zk_mode_persistent_sequential(void) { return ZOO_PERSISTENT_SEQUENTIAL; }
static inline int midge_zk_mode_ephemeral_sequential(void) { return ZOO_EPHEMERAL_SEQUENTIAL; }
static inline int midge_zk_mode_container(void) { return ZOO_CONTAINER; }

static inline int midge_zk_state_expired(void) { return ZOO_EXPIRED_SESSION_STATE; }
static inline int midge_zk_state_auth_failed(void) { return ZOO_AUTH_FAILED_STATE; }
static inline int midge_zk_state_connecting(void) { return ZOO_CONNECTING_STATE; }
static inline int midge_zk_state_associating(void) { return ZOO_ASSOCIATING_STATE; }
static inline int midge_zk_state_connected(void) { return ZOO_CONNECTED_STATE; }
static inline int midge_zk_state_readonly(void) { return ZOO_READONLY_STATE; }
static inline int midge_zk_state_not_connected(void) { return ZOO_NOTCONNECTED_STATE; }

static inline int midge_zk_event_created(void) { return ZOO_CREATED_EVENT; }
static inline int midge_zk_event_deleted(void) { return ZOO_DELETED_EVENT; }
static inline int midge_zk_event_changed(void) { return ZOO_CHANGED_EVENT; }
static inline int midge_zk_event_child(void) { return ZOO_CHILD_EVENT; }
static inline int midge_zk_event_session(void) { return ZOO_SESSION_EVENT; }
static inline int midge_zk_event_not_watching(void) { return ZOO_NOTWATCHING_EVENT; }

/* Multi operations: the ops and result arrays, and every path and buffer they
 * point at, must stay alive until the completion runs. They are allocated here
 * in C memory and released by midge_zk_multi_free from the completion. */
typedef struct midge_zk_multi {
  int count;
  zoo_op_t *ops;
  zoo_op_result_t *results;
  char **paths;          /* strdup'd paths, one per op */
  char **buffers;        /* copies of data buffers (or NULL) */
  char **path_buffers;   /* created-path buffers for create ops (or NULL) */
  struct Stat *stats;    /* stat outputs for set ops */
  struct ACL_vector **acls; /* ACLs of create ops (or NULL: the open ACL) */
} midge_zk_multi;

static inline midge_zk_multi *midge_zk_multi_alloc(int count) {
  midge_zk_multi *m = (midge_zk_multi *)calloc(1, sizeof(midge_zk_multi));
  if (!m) return NULL;
  m->count = count;
  m->ops = (zoo_op_t *)calloc(count > 0 ? count : 1, sizeof(zoo_op_t));
  m->results = (zoo_op_result_t *)calloc(count > 0 ? count : 1, sizeof(zoo_op_result_t));
  m->paths = (char **)calloc(count > 0 ? count : 1, sizeof(char *));
  m->buffers = (char **)calloc(count > 0 ? count : 1, sizeof(char *));
  m->path_buffers = (char **)calloc(count > 0 ? count : 1, sizeof(char *));
  m->stats = (struct Stat *)calloc(count > 0 ? count : 1, sizeof(struct Stat));
  m->acls = (struct ACL_vector **)calloc(count > 0 ? count : 1, sizeof(struct ACL_vector *));
  return m;
}

static inline void midge_zk_multi_free(midge_zk_multi *m) {
  if (!m) return;
  for (int i = 0; i < m->count; i++) {
    free(m->paths[i]);
    free(m->buffers[i]);
    free(m->path_buffers[i]);
    if (m->acls) midge_zk_acl_free(m->acls[i]);
  }
  free(m->ops); free(m->results); free(m->paths); free(m->buffers);
  free(m->path_buffers); free(m->stats); free(m->acls); free(m);
}

static inline char *midge_zk_copy_bytes(const void *bytes, int len) {
  char *p = (char *)malloc(len > 0 ? (size_t)len : 1);
  if (p && len > 0) memcpy(p, bytes, (size_t)len);
  return p;
}

#define MIDGE_ZK_PATH_BUFFER_LEN 1024

/* `acl` (NULL: the open ACL) is owned by the multi from now on. */
static inline void midge_zk_multi_create(midge_zk_multi *m, int i, const char *path,
                                         const void *data, int len, int mode,
                                         struct ACL_vector *acl) {
  m->paths[i] = strdup(path);
  m->buffers[i] = midge_zk_copy_bytes(data, len);
  m->path_buffers[i] = (char *)calloc(1, MIDGE_ZK_PATH_BUFFER_LEN);
  m->acls[i] = acl;
  zoo_create_op_init(&m->ops[i], m->paths[i], m->buffers[i], len,
                     acl ? acl : &ZOO_OPEN_ACL_UNSAFE, mode, m->path_buffers[i],
                     MIDGE_ZK_PATH_BUFFER_LEN);
}

static inline void midge_zk_multi_delete(midge_zk_multi *m, int i, const char *path, int version) {
  m->paths[i] = strdup(path);
  zoo_delete_op_init(&m->ops[i], m->paths[i], version);
}

static inline void midge_zk_multi_set(midge_zk_multi *m, int i, const char *path,
                                      const void *data, int len, int version) {
  m->paths[i] = strdup(path);
  m->buffers[i] = midge_zk_copy_bytes(data, len);
  zoo_set_op_init(&m->ops[i], m->paths[i], m->buffers[i], len, version, &m->stats[i]);
}

static inline void midge_zk_multi_check(midge_zk_multi *m, int i, const char *path, int version) {
  m->paths[i] = strdup(path);
  zoo_check_op_init(&m->ops[i], m->paths[i], version);
}

static inline int midge_zk_multi_submit(zhandle_t *zh, midge_zk_multi *m,
                                        void_completion_t completion, const void *data) {
  return zoo_amulti(zh, m->count, m->ops, m->results, completion, data);
}

static inline int midge_zk_multi_result_err(const midge_zk_multi *m, int i) { return m->results[i].err; }
static inline const char *midge_zk_multi_result_path(const midge_zk_multi *m, int i) {
  return m->path_buffers[i];
}
static inline struct Stat midge_zk_multi_result_stat(const midge_zk_multi *m, int i) { return m->stats[i]; }

#endif
