# Sourced by .ci/run: starts the Debian PostgreSQL cluster on loopback and exports C360_TEST_PG_DSN for the tests.
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q " online"; then
  pg_lsclusters -h | grep -q "^${pg_version} main" || pg_createcluster "$pg_version" main >/dev/null
  pg_ctlcluster "$pg_version" main start
fi
su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname='c360_ci'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"create role c360_ci login superuser password 'c360_ci'\""
su postgres -c "psql -qtAc \"select 1 from pg_database where datname='c360_test'\"" | grep -q 1 \
  || su postgres -c "psql -qc 'create database c360_test owner c360_ci'"
export C360_TEST_PG_DSN="postgresql://c360_ci:c360_ci@127.0.0.1:5432/c360_test"
echo "PostgreSQL $pg_version running on 127.0.0.1:5432 for the tests"
