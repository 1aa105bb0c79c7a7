#!/usr/bin/env bash
# Make a flat apt repository of .deb files with apt-ftparchive (docs/PACKAGING.md).
#   packaging/make_repo.sh REPO_DIR DEB...
# Copies the packages into REPO_DIR and writes Packages, Packages.gz and Release there.
# A machine then uses it with one line in /etc/apt/sources.list.d/jetsentry.list:
#   deb [trusted=yes] file:/path/to/REPO_DIR ./        (local, unsigned: for tests and a lab)
# Signing it for hosting is in docs/PACKAGING.md (Hosting a repository).
set -euo pipefail
if (($# < 2)); then
  echo "usage: packaging/make_repo.sh REPO_DIR DEB..." >&2
  exit 2
fi
repo=$1; shift
mkdir -p "$repo"
archs=$(for deb in "$@"; do dpkg-deb -f "$deb" Architecture; done | sort -u | tr '\n' ' ')
cp "$@" "$repo/"
cd "$repo"
apt-ftparchive packages . > Packages
gzip -9kf Packages
apt-ftparchive -o APT::FTPArchive::Release::Origin=jetsentry -o APT::FTPArchive::Release::Label=jetsentry \
  -o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=jetsentry \
  -o "APT::FTPArchive::Release::Architectures=${archs% }" \
  release . > Release
echo "$repo"
