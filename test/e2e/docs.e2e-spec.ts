import { execFileSync } from 'node:child_process';
import { startTestApp, TestApp } from '../support/test-app.js';

describe('OpenAPI docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { load: false });
  });
  afterAll(() => t.close());

  it('serves the Swagger UI at /docs', async () => {
    const res = await t.get('/docs');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('/docs/openapi.json');
    for (const asset of ['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js']) {
      const file = await t.get(`/docs/assets/${asset}`);
      expect(file.statusCode).toBe(200);
      expect(file.body.length).toBeGreaterThan(1000);
    }
  });

  it("keeps Swagger UI's 3.5 MiB bundle out of the server: only its files' path is imported", () => {
    // The built app's whole import graph, in a process of its own (jest has its own module registry).
    const loaded = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      import { createRequire } from 'node:module';
      await import('./dist/app/app.factory.js');
      console.log(JSON.stringify(Object.keys(createRequire(process.cwd() + '/').cache)));
    `,
      ],
      { encoding: 'utf8' },
    );
    const swaggerUiFiles = (JSON.parse(loaded) as string[]).filter((path) => path.includes('/swagger-ui-dist/'));
    expect(swaggerUiFiles.map((path) => path.split('/swagger-ui-dist/')[1])).toEqual(['absolute-path.js']);
  });

  it('documents every endpoint, with request schemas taken from the DTO validation rules', async () => {
    const doc = (await t.get('/docs/openapi.json')).json();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/health/live',
      '/health/memory',
      '/health/ready',
      '/metrics',
      '/v1/chat',
      '/v1/chat/completions',
      '/v1/chat/{task}',
      '/v1/classify/{task}',
      '/v1/classify/{task}/batch',
      '/v1/extract/{task}',
      '/v1/models',
      '/v1/sentiment',
      '/v1/sentiment/batch',
      '/v1/tasks',
      '/v1/triage',
      '/v1/triage/batch',
    ]);
    expect(doc.paths['/v1/classify/{task}'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ClassifyDto',
    });
    const { schemas } = doc.components;
    expect(schemas.ClassifyDto.required).toEqual(['text']);
    expect(schemas.ClassifyDto.properties.labels).toMatchObject({ minItems: 2, maxItems: 20, uniqueItems: true });
    expect(schemas.ClassifyDto.properties.minConfidence).toMatchObject({ minimum: 0, maximum: 1 });
    expect(schemas.ClassifyBatchDto.properties.items).toMatchObject({
      minItems: 1,
      maxItems: 64,
      items: { $ref: '#/components/schemas/BatchItemDto' },
    });
    expect(schemas.TriageDto.properties.tasks).toMatchObject({ minItems: 1, uniqueItems: true });
    expect(schemas.ChatDto.properties.messages.items).toEqual({ $ref: '#/components/schemas/ChatMessageDto' });
    expect(schemas.ChatMessageDto.properties.role.enum).toEqual(['user', 'assistant']);
    expect(JSON.stringify(doc)).not.toContain('#/components/schemas/Array');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
