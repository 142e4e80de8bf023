import mysqlPromise from 'mysql2/promise'
import pg from 'pg'

const SERVER_PG = 'postgres://postgres:postgres@127.0.0.1:5432'
const SERVER_MYSQL = 'mysql://root@127.0.0.1:3306'

/**
 * A PostgreSQL and a MariaDB database named `name`, for tests whose locks must never touch
 * another run of the app on the servers' usual databases (CI's): URLs, and create / drop.
 */
export function ownDatabases(name: string) {
  return {
    pg: `${SERVER_PG}/${name}`,
    mysql: `${SERVER_MYSQL}/${name}`,
    async create(): Promise<void> {
      const admin = new pg.Client(`${SERVER_PG}/test`)
      await admin.connect()
      await admin.query(`CREATE DATABASE ${name}`)
      await admin.end()
      const my = await mysqlPromise.createConnection(SERVER_MYSQL)
      await my.query(`CREATE DATABASE ${name}`)
      await my.end()
    },
    async drop(): Promise<void> {
      const admin = new pg.Client(`${SERVER_PG}/test`)
      await admin.connect()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
      const my = await mysqlPromise.createConnection(SERVER_MYSQL)
      await my.query(`DROP DATABASE IF EXISTS ${name}`)
      await my.end()
    },
  }
}
