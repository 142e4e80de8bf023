import { runConformanceSuite } from '@batchsql/conformance'
import { postgresTarget } from './target.js'

// The same suite over both write paths: results must be identical.
runConformanceSuite({ name: 'postgres (INSERT)', connect: async () => postgresTarget('never') })
runConformanceSuite({ name: 'postgres (COPY)', connect: async () => postgresTarget('always') })
