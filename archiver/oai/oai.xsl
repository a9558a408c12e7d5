<?xml version="1.0" encoding="UTF-8"?>
<!-- Renders archiver's OAI-PMH responses as a web page, on the server (archiver/oai/app.py),
     for a browser that asks for HTML; harvesters get the XML. Values in links are
     percent-encoded (EXSLT str:encode-uri); the serializer escapes every text. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:oai="http://www.openarchives.org/OAI/2.0/"
    xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:id="http://www.openarchives.org/OAI/2.0/oai-identifier"
    xmlns:str="http://exslt.org/strings"
    exclude-result-prefixes="oai oai_dc dc id str">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:variable name="verb" select="/oai:OAI-PMH/oai:request/@verb"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <title>OAI-PMH <xsl:value-of select="$verb"/></title>
        <style>
          body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; color: #222; }
          nav a { margin-right: 1rem; } table { border-collapse: collapse; width: 100%; }
          th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
          .error { color: #a31515; } .deleted { color: #888; } .record { margin: 1rem 0; }
          code { font-size: .9em; }
        </style>
      </head>
      <body>
        <nav>
          <a href="?verb=Identify">Identify</a>
          <a href="?verb=ListMetadataFormats">Formats</a>
          <a href="?verb=ListSets">Sets</a>
          <a href="?verb=ListIdentifiers&amp;metadataPrefix=oai_dc">Identifiers</a>
          <a href="?verb=ListRecords&amp;metadataPrefix=oai_dc">Records</a>
        </nav>
        <h1><xsl:value-of select="$verb"/></h1>
        <p>Response of <xsl:value-of select="/oai:OAI-PMH/oai:responseDate"/> to
          <code><xsl:value-of select="/oai:OAI-PMH/oai:request"/></code></p>
        <xsl:apply-templates select="/oai:OAI-PMH/oai:error"/>
        <xsl:apply-templates select="/oai:OAI-PMH/oai:Identify | /oai:OAI-PMH/oai:ListMetadataFormats | /oai:OAI-PMH/oai:ListSets | /oai:OAI-PMH/oai:GetRecord | /oai:OAI-PMH/oai:ListIdentifiers | /oai:OAI-PMH/oai:ListRecords"/>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="oai:error">
    <p class="error"><strong><xsl:value-of select="@code"/></strong>: <xsl:value-of select="."/></p>
  </xsl:template>

  <xsl:template match="oai:Identify">
    <table>
      <xsl:for-each select="*[not(self::oai:description)]">
        <tr><th><xsl:value-of select="local-name()"/></th><td><xsl:value-of select="."/></td></tr>
      </xsl:for-each>
      <xsl:for-each select="oai:description/id:oai-identifier/*">
        <tr><th><xsl:value-of select="local-name()"/></th><td><xsl:value-of select="."/></td></tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <xsl:template match="oai:ListMetadataFormats">
    <table>
      <tr><th>prefix</th><th>schema</th><th>namespace</th></tr>
      <xsl:for-each select="oai:metadataFormat">
        <tr>
          <td><a href="?verb=ListRecords&amp;metadataPrefix={str:encode-uri(oai:metadataPrefix, true())}"><xsl:value-of select="oai:metadataPrefix"/></a></td>
          <td><xsl:value-of select="oai:schema"/></td>
          <td><xsl:value-of select="oai:metadataNamespace"/></td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <xsl:template match="oai:ListSets">
    <table>
      <tr><th>setSpec</th><th>name</th></tr>
      <xsl:for-each select="oai:set">
        <tr>
          <td><a href="?verb=ListRecords&amp;metadataPrefix=oai_dc&amp;set={str:encode-uri(oai:setSpec, true())}"><xsl:value-of select="oai:setSpec"/></a></td>
          <td><xsl:value-of select="oai:setName"/></td>
        </tr>
      </xsl:for-each>
    </table>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <xsl:template match="oai:GetRecord | oai:ListRecords">
    <xsl:apply-templates select="oai:record"/>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <xsl:template match="oai:ListIdentifiers">
    <table>
      <tr><th>identifier</th><th>datestamp</th><th>set</th></tr>
      <xsl:for-each select="oai:header">
        <tr>
          <xsl:if test="@status = 'deleted'"><xsl:attribute name="class">deleted</xsl:attribute></xsl:if>
          <td><a href="?verb=GetRecord&amp;metadataPrefix=oai_dc&amp;identifier={str:encode-uri(oai:identifier, true())}"><xsl:value-of select="oai:identifier"/></a>
            <xsl:if test="@status = 'deleted'"> (deleted)</xsl:if></td>
          <td><xsl:value-of select="oai:datestamp"/></td>
          <td><xsl:value-of select="oai:setSpec"/></td>
        </tr>
      </xsl:for-each>
    </table>
    <xsl:apply-templates select="oai:resumptionToken"/>
  </xsl:template>

  <xsl:template match="oai:record">
    <div class="record">
      <h2>
        <xsl:if test="oai:header/@status = 'deleted'"><xsl:attribute name="class">deleted</xsl:attribute></xsl:if>
        <xsl:value-of select="oai:metadata/oai_dc:dc/dc:title"/>
        <xsl:if test="not(oai:metadata/oai_dc:dc/dc:title)"><xsl:value-of select="oai:header/oai:identifier"/></xsl:if>
        <xsl:if test="oai:header/@status = 'deleted'"> (deleted)</xsl:if>
      </h2>
      <table>
        <tr><th>identifier</th><td><xsl:value-of select="oai:header/oai:identifier"/></td></tr>
        <tr><th>datestamp</th><td><xsl:value-of select="oai:header/oai:datestamp"/></td></tr>
        <xsl:for-each select="oai:header/oai:setSpec"><tr><th>set</th><td><xsl:value-of select="."/></td></tr></xsl:for-each>
        <xsl:for-each select="oai:metadata/oai_dc:dc/*">
          <tr><th><xsl:value-of select="local-name()"/></th><td><xsl:value-of select="."/></td></tr>
        </xsl:for-each>
        <xsl:if test="oai:metadata/*[not(self::oai_dc:dc)]">
          <tr><th>metadata</th><td><code><xsl:value-of select="name(oai:metadata/*)"/></code> document (see the XML source)</td></tr>
        </xsl:if>
      </table>
    </div>
  </xsl:template>

  <xsl:template match="oai:resumptionToken">
    <p>
      <xsl:value-of select="@cursor"/> before this page, <xsl:value-of select="@completeListSize"/> in all.
      <xsl:if test="string(.)">
        <a href="?verb={$verb}&amp;resumptionToken={str:encode-uri(., true())}">Next page</a>
      </xsl:if>
    </p>
  </xsl:template>
</xsl:stylesheet>
