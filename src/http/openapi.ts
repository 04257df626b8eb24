import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import getSwaggerUiPath from 'swagger-ui-dist/absolute-path.js';

const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
};

const UI_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Duet API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#swagger-ui', presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });</script>
</body></html>`;

/**
 * Serves the OpenAPI document at /docs/openapi.json and Swagger UI at /docs. Routes come from
 * Nest's scanner; request schemas come from the DTOs' class-validator decorators, so the
 * validation rules are the one source of the contract. The document is built on first request.
 */
export function serveOpenApi(app: NestFastifyApplication): void {
  let document: OpenAPIObject | undefined;
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/docs/openapi.json', async () => (document ??= buildDocument(app)));
  fastify.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(UI_PAGE));
  const assets = getSwaggerUiPath();
  for (const [file, type] of Object.entries(UI_ASSETS)) {
    fastify.get(`/docs/assets/${file}`, async (_request, reply) =>
      reply
        .type(type)
        .header('cache-control', 'public, max-age=86400')
        .send(readFileSync(join(assets, file))),
    );
  }
}

function buildDocument(app: NestFastifyApplication): OpenAPIObject {
  const info = new DocumentBuilder()
    .setTitle('Duet')
    .setDescription(
      'One small LLM serving sentiment classification and short-reply chat. Every error: {statusCode, error, message, details?}.',
    )
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, info);
  const schemas = validationMetadatasToSchemas({
    classValidatorMetadataStorage: getMetadataStorage(),
    // @Type() tells the element class of nested arrays (chat messages, batch items).
    classTransformerMetadataStorage: defaultMetadataStorage,
    refPointerPrefix: '#/components/schemas/',
  });
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...withoutArrayRefs(schemas) },
  };
  return document;
}

/** The converter puts a `$ref` to the property's design type (Array) beside `items`; only `items` is right. */
function withoutArrayRefs(schemas: Record<string, unknown>): Record<string, object> {
  return JSON.parse(JSON.stringify(schemas), (_key, value: { type?: string; $ref?: string }) =>
    value && value.type === 'array' && value.$ref ? { ...value, $ref: undefined } : value,
  );
}
