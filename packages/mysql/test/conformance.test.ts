import { runConformanceSuite } from '@batchsql/conformance'
import { mysqlTarget } from './target.js'

runConformanceSuite({ name: 'mysql (MariaDB)', connect: async () => mysqlTarget() })
