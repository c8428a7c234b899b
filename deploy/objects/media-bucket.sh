#!/bin/sh
# Sets up the media bucket in the object store (deploy/compose.yaml, service media-bucket), then
# exits; it runs on every `docker compose up` and changes nothing the second time.
#   1. the bucket MEDIA_S3_BUCKET, private: no anonymous access, files are served only through
#      the clinic's own /media/<schema>/… URLs (saas/storage.py);
#   2. the application's own key (secrets media_access_key, media_secret_key), allowed only
#      the objects of that bucket, so web and workers never hold the store's root credentials.
# Arguments, if any, are an mc command run afterwards with the alias `objects` set up as root,
# e.g. `mirror objects/carebridge-media /backup` (deploy/README.md, "What to back up").
# POSIX sh and coreutils only: the minio/mc image has no grep, sed or curl. SECRETS_DIR is for
# tests/test_deploy.py, which runs this script against a stand-in mc.
set -eu

secrets=${SECRETS_DIR:-/run/secrets}
bucket=${MEDIA_S3_BUCKET:?MEDIA_S3_BUCKET is not set}
endpoint=${MEDIA_S3_ENDPOINT_URL:?MEDIA_S3_ENDPOINT_URL is not set}

secret() {
    # An empty or missing file would make MinIO fall back to its well-known default login.
    if [ ! -s "$secrets/$1" ]; then
        echo "media-bucket: the secret $1 is missing or empty (deploy/secrets/$1)." >&2
        exit 1
    fi
    cat "$secrets/$1"
}

root_user=$(secret objects_root_user)
root_password=$(secret objects_root_password)
access_key=$(secret media_access_key)
secret_key=$(secret media_secret_key)

# The root login goes on standard input, not the command line (`mc alias set` reads it there).
printf '%s\n%s\n' "$root_user" "$root_password" | mc alias set objects "$endpoint" >/dev/null

mc mb --ignore-existing "objects/$bucket"
mc anonymous set none "objects/$bucket"

# Only what django-storages does: read, write and delete objects, list and look up the bucket
# (saas/startup.py's head_bucket). No bucket policy, versions or other buckets.
policy=$(mktemp)
cat > "$policy" <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["arn:aws:s3:::$bucket"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["arn:aws:s3:::$bucket/*"]
    }
  ]
}
EOF
mc admin policy create objects carebridge-media "$policy" >/dev/null
rm -f "$policy"
# Adding an existing user sets its secret again (a rotated media_secret_key takes effect);
# attaching a policy the user already has changes nothing. Output names the key: not logged.
mc admin user add objects "$access_key" "$secret_key" >/dev/null
mc admin policy attach objects carebridge-media --user "$access_key" >/dev/null
echo "media-bucket: objects/$bucket is private; the application's key may use only its objects."

if [ "$#" -gt 0 ]; then
    exec mc "$@"
fi
