// Upload one file with tus-js-client and report where it went.
//
//   node upload.mjs <path> <endpoint> <chunkSize|Infinity> <retryDelays, e.g. 0,50,100> [parallelUploads] [duringCreation] [protocol]
//
// With parallelUploads > 1 the file goes up as that many partial uploads joined by a final concatenation;
// with duringCreation = 1 the first chunk rides on the POST (creation-with-upload).
// protocol is tus-js-client's: tus-v1 (the default), ietf-draft-03 or ietf-draft-05 (Resumable Uploads for HTTP).
// On success prints one JSON line {"url", "artifactUrn", "retries", "responses"} and exits 0; on failure
// prints the error on stderr and exits 1. The Artifact-Urn header is read from every response
// (onAfterResponse); if the last one lacked it, a HEAD of the upload URL asks for it.
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { Upload } from 'tus-js-client'

function usage(message) {
  process.stderr.write(`${message}\nusage: node upload.mjs <path> <endpoint> <chunkSize|Infinity> <retryDelays> [parallelUploads] [duringCreation] [protocol]\n`)
  process.exit(2)
}

const [path, endpoint, chunkArg, delaysArg, parallelArg = '1', duringCreationArg = '0', protocol = 'tus-v1'] = process.argv.slice(2)
if (!path || !endpoint || !chunkArg || delaysArg === undefined) usage('missing arguments')
const chunkSize = chunkArg === 'Infinity' ? Infinity : Number.parseInt(chunkArg, 10)
if (!(chunkSize > 0)) usage(`bad chunkSize ${chunkArg}`)
const retryDelays = delaysArg === '' ? [] : delaysArg.split(',').map((d) => Number.parseInt(d, 10))
if (retryDelays.some((d) => !(d >= 0))) usage(`bad retryDelays ${delaysArg}`)
const parallelUploads = Number.parseInt(parallelArg, 10)
if (!(parallelUploads >= 1)) usage(`bad parallelUploads ${parallelArg}`)

let artifactUrn = null
let responses = 0
let retries = 0

const DRAFT_INTEROP_VERSIONS = { 'ietf-draft-03': '5', 'ietf-draft-05': '6' }

async function headArtifactUrn(url) {
  const version = DRAFT_INTEROP_VERSIONS[protocol]
  const headers = version ? { 'Upload-Draft-Interop-Version': version } : { 'Tus-Resumable': '1.0.0' }
  const res = await fetch(url, { method: 'HEAD', headers })
  return res.headers.get('Artifact-Urn')
}

const upload = new Upload(createReadStream(path), {
  endpoint,
  chunkSize,
  retryDelays,
  parallelUploads,
  uploadDataDuringCreation: duringCreationArg === '1',
  protocol,
  metadata: { filename: basename(path), filetype: 'application/x-test' },
  storeFingerprintForResuming: false,
  removeFingerprintOnSuccess: true,
  onAfterResponse(_req, res) {
    responses += 1
    const urn = res.getHeader('Artifact-Urn')
    if (urn) artifactUrn = urn
  },
  onShouldRetry(err, attempt) {
    retries += 1
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0
    process.stderr.write(`retry ${attempt} after status ${status}: ${err.message.split('\n')[0]}\n`)
    return status === 0 || status === 409 || status === 423 || status >= 500
  },
  async onSuccess() {
    try {
      if (!artifactUrn) artifactUrn = await headArtifactUrn(upload.url)
      if (!artifactUrn) throw new Error(`no Artifact-Urn for ${upload.url}`)
      process.stdout.write(`${JSON.stringify({ url: upload.url, artifactUrn, retries, responses })}\n`)
      process.exit(0)
    } catch (err) {
      process.stderr.write(`${err.stack || err}\n`)
      process.exit(1)
    }
  },
  onError(err) {
    process.stderr.write(`upload failed: ${err.stack || err}\n`)
    process.exit(1)
  },
})

upload.start()
